# syntax=docker/dockerfile:1

# --- build ------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src

# build.rs fetches GraphiQL's pinned assets from the npm registry with npm and builds them into
# the binary, so /graphiql works with no internet; `embed` fails the build rather than fall back
# to a CDN.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
ENV QUIZ_LLM_GRAPHIQL_ASSETS=embed

# Dependencies first (and GraphiQL's assets, fetched by build.rs): this layer is rebuilt only
# when Cargo.toml, Cargo.lock or build.rs change.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src

# Then the application itself. Touch the crate roots so cargo does not mistake the real
# sources (whose copied mtimes may be older) for the dummy ones it has already built.
COPY src ./src
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/quiz-llm /quiz-llm

# --- runtime ----------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 quiz \
    && useradd --system --uid 10001 --gid quiz --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin quiz \
    && mkdir -p /app/data \
    && chown -R quiz:quiz /app

COPY --from=build /quiz-llm /usr/local/bin/quiz-llm

WORKDIR /app
# Without DATABASE_URL/SMTP_URL the SQLite file (data/quiz-llm.db) and the e-mail files
# (data/mail) go to /app/data; mount a volume there to keep them.
ENV LISTEN_ADDR=0.0.0.0:8000
EXPOSE 8000

USER quiz
ENTRYPOINT ["quiz-llm"]
CMD ["serve"]
