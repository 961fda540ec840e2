#!/usr/bin/env bash
# The whole test suite, on both stores.
#
# Usage: scripts/test.sh [cargo test arguments...]
#
# Starts a throwaway MongoDB-wire test server (scripts/mongo-test-server.sh: mongo-java-server,
# needs Java 17 and Maven on the first run), runs `cargo test --all-targets` with
# MONGODB_TEST_URL pointing at it and QUIZ_LLM_REQUIRE_MONGO=1 (so a MongoDB variant that finds
# no server fails instead of passing without running), stops the server, and prints how many
# store tests passed and failed on each store. Store tests run as `sqlite::X` (in memory),
# `sqlite_file::X` (a file behind the production pool) and `mongodb::X`; it fails when the three
# did not run the same list of tests, and prints the difference. Then, when no arguments were
# given, it runs the multi-node tests as a stage of their own (three server processes behind
# HAProxy, `nodes::on_sqlite_file::…` and `nodes::on_mongodb::…`, one cluster at a time, on real
# time; QUIZ_LLM_REQUIRE_HAPROXY=1 makes them fail when HAProxy is not installed), then the
# real-model tests (`quizzes::real_model::…`, one at a time against llama.cpp's llama-server with
# SmolLM2-135M from scripts/llama-test-server.sh; QUIZ_LLM_REQUIRE_LLM=1 makes them fail when the
# server is not there), then the end-to-end suite (e2e/run.sh). With arguments, the one cargo run
# takes them as they are.
#
# The tests that sign in with OpenID Connect start a provider of their own (oidc-provider from
# npm, run by tests/support/oidc-provider/server.mjs): this script installs it first with
# scripts/oidc-test-provider.sh (npm ci once per lock into ~/.cache/quiz-llm; needs Node 20+ and
# npm) and exports OIDC_TEST_PROVIDER_DIR. Under CI=true it sets QUIZ_LLM_REQUIRE_OIDC=1, so those
# tests fail when the provider cannot run; elsewhere a failed install is a loud warning and those
# tests do not run.
#
# Tests mostly wait on sockets and timers, not the CPU, so libtest runs 6 at a time
# (RUST_TEST_THREADS, when not set already) even on a 2-core machine.
#
# Environment:
#   MONGODB_TEST_URL  already set: test against that server (e.g. `docker compose up -d mongo`,
#                     then MONGODB_TEST_URL=mongodb://localhost:27017); none is started
#   OIDC_TEST_PROVIDER_DIR  already set: the OpenID Connect provider installed there (none is
#                     installed)
#   SKIP_MONGO=1      no MongoDB at all: the SQLite tests only (with a loud warning)
#   SKIP_E2E=1        skip the end-to-end suite (e2e/run.sh), which needs Node 20+ and Chromium
#   SKIP_LLM=1        skip the real-model stage (its first run builds llama-server: minutes)
#                     (all three ignored, loudly, under CI=true: CI runs every stage)
#   PROMETHEUS_BIN    the Prometheus binary for the scrape test (default /usr/bin/prometheus,
#                     which must exist: apt-get install prometheus)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[test.sh] %s\n' "$*" >&2; }

loud() {
    printf '\n' >&2
    printf '!!! %s\n' "$@" >&2
    printf '\n' >&2
}

started_server=0
started_llm=0
log_file="$(mktemp "${TMPDIR:-/tmp}/quiz-llm-test.XXXXXX")"
results="$(mktemp "${TMPDIR:-/tmp}/quiz-llm-results.XXXXXX")"

cleanup() {
    local status=$?
    if ((started_server)); then
        scripts/mongo-test-server.sh stop || log "could not stop the MongoDB test server"
    fi
    if ((started_llm)); then
        scripts/llama-test-server.sh stop || log "could not stop the model server"
    fi
    rm -f "$log_file" "$results"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# CI runs every stage: a variable left in its environment must not turn one off unseen.
if [[ "${CI:-}" == true ]]; then
    for var in SKIP_MONGO SKIP_E2E SKIP_LLM; do
        if [[ -n "${!var:-}" ]]; then
            loud "CI=true: $var=${!var} is ignored; CI runs every stage."
            unset "$var"
        fi
    done
fi

skip_mongo=0
if [[ "${SKIP_MONGO:-}" == 1 ]]; then
    skip_mongo=1
    unset MONGODB_TEST_URL QUIZ_LLM_REQUIRE_MONGO
    loud "SKIP_MONGO=1: the MongoDB variants of the tests will NOT run; only SQLite is tested."
else
    if [[ -n "${MONGODB_TEST_URL:-}" ]]; then
        log "MONGODB_TEST_URL is set: testing against that server (none is started)"
    else
        # The assignment keeps a failed start fatal (`eval "$(...)"` alone would hide it).
        exports="$(scripts/mongo-test-server.sh start)"
        eval "$exports"
        started_server=1
    fi
    # Every MongoDB variant must run: one that finds no server fails.
    export QUIZ_LLM_REQUIRE_MONGO=1
fi

# The OpenID Connect provider the sign-in tests start (tests/api/common/oidc.rs).
if [[ -n "${OIDC_TEST_PROVIDER_DIR:-}" ]]; then
    log "OIDC_TEST_PROVIDER_DIR is set: the sign-in tests use the provider installed there"
elif exports="$(scripts/oidc-test-provider.sh install)"; then
    eval "$exports"
elif [[ "${CI:-}" == true ]]; then
    loud "The OpenID Connect test provider could not be installed (see above); CI needs it."
    exit 1
else
    loud "The OpenID Connect test provider could not be installed (see above):" \
        "the tests that sign in with it will NOT run."
fi
if [[ "${CI:-}" == true ]]; then
    export QUIZ_LLM_REQUIRE_OIDC=1
fi

# The multi-node tests (tests/api/operations/nodes.rs) must run too: without HAProxy they fail, saying so.
export QUIZ_LLM_REQUIRE_HAPROXY=1
# The test that scrapes the metrics with Prometheus must run (Debian's `prometheus`; .ci/run
# installs it): without the binary it fails instead of passing without running.
export QUIZ_LLM_REQUIRE_PROMETHEUS=1

# libtest's own output is not coloured into a pipe; cargo's may be.
if [[ -t 1 && -z "${CARGO_TERM_COLOR:-}" ]]; then
    export CARGO_TERM_COLOR=always
fi

export RUST_TEST_THREADS="${RUST_TEST_THREADS:-6}"

cargo_status=0
if (($# > 0)); then
    cargo test --all-targets --no-fail-fast "$@" 2>&1 | tee "$log_file" || cargo_status=$?
else
    log "stage 1: every test but the multi-node and real-model ones"
    cargo test --all-targets --no-fail-fast -- --skip nodes:: --skip real_model:: 2>&1 |
        tee "$log_file" || cargo_status=$?
    log "stage 2: the multi-node tests (three server processes behind HAProxy, on each store)"
    cargo test --test api --no-fail-fast nodes:: 2>&1 | tee -a "$log_file" || cargo_status=$?
    if [[ "${SKIP_LLM:-}" == 1 ]]; then
        loud "SKIP_LLM=1: the real-model stage did NOT run."
    else
        log "stage 3: the real-model tests (llama-server with SmolLM2-135M, one test at a time)"
        # The assignment keeps a failed start fatal (`eval "$(...)"` alone would hide it).
        exports="$(scripts/llama-test-server.sh start)"
        eval "$exports"
        started_llm=1
        QUIZ_LLM_REQUIRE_LLM=1 RUST_TEST_THREADS=1 cargo test --test api --no-fail-fast \
            real_model:: 2>&1 | tee -a "$log_file" || cargo_status=$?
        scripts/llama-test-server.sh stop || log "could not stop the model server"
        started_llm=0
    fi
fi

# Result lines look like `test sqlite::some_test ... ok` (or `test some::module::mongodb::x`);
# matching anywhere in a line also finds one that other output (the tests' own stderr) was
# written into. Each line of $results is `<binary> <test name> <outcome>`, the binary taken
# from cargo's `Running tests/api/main.rs (…)` line before its tests.
awk '
    /Running / {
        for (i = 1; i < NF; i++) if ($i == "Running") binary = $(i + 1) == "unittests" ? $(i + 2) : $(i + 1)
    }
    # Unit tests (src/…) may have a store in their path without being a per-store variant.
    binary !~ /^src\// {
        line = $0
        while (match(line, /test ([A-Za-z0-9_]+::)*(sqlite|sqlite_file|mongodb)::[A-Za-z0-9_:]+ \.\.\. (ok|FAILED|ignored)/)) {
            split(substr(line, RSTART + 5, RLENGTH - 5), parts, " ")
            print binary, parts[1], parts[3]
            line = substr(line, RSTART + RLENGTH)
        }
    }
' "$log_file" >"$results"

# The tests one store ran: `<binary> <name with the store module taken out>`, sorted.
names_of() { # $1 = store module
    awk -v store="$1" '{
        n = split($2, path, "::"); name = ""; found = 0
        for (i = 1; i <= n; i++) {
            if (path[i] == store && !found) { found = 1; continue }
            name = name (name == "" ? "" : "::") path[i]
        }
        if (found) print $1, name
    }' "$results" | sort -u
}
count() { # $1 = store module, $2 = outcome
    awk -v store="$1" -v outcome="$2" '
        { n = split($2, path, "::"); for (i = 1; i <= n; i++) if (path[i] == store) { if ($3 == outcome) c++; break } }
        END { print c + 0 }' "$results"
}

stores=(sqlite sqlite_file)
((skip_mongo)) || stores+=(mongodb)
echo
summary="store totals:"
for store in "${stores[@]}"; do
    summary+=" $store $(count "$store" ok) passed, $(count "$store" FAILED) failed"
    ignored="$(count "$store" ignored)"
    ((ignored == 0)) || summary+=" ($ignored ignored)"
    summary+=";"
done
((skip_mongo)) && summary+=" mongodb not run (SKIP_MONGO=1)"
echo "${summary%;}"

# The same list of tests on every store, not just the same number.
check_status=0
reference="$(names_of sqlite)"
if [[ -z "$reference" && -z "$(names_of mongodb)" && -z "$(names_of sqlite_file)" ]]; then
    if (($# > 0)); then
        log "the selected tests include no store tests; nothing to compare"
    else
        loud "No store test ran at all."
        check_status=1
    fi
else
    for store in "${stores[@]:1}"; do
        other="$(names_of "$store")"
        if [[ "$other" != "$reference" ]]; then
            loud "sqlite and $store did not run the same tests:"
            diff <(printf '%s\n' "$reference") <(printf '%s\n' "$other") |
                sed -n "s/^< /  only on sqlite: /p; s/^> /  only on $store: /p" >&2 || true
            check_status=1
        fi
    done
fi
if ((skip_mongo)); then
    loud "SKIP_MONGO=1: the MongoDB variants did NOT run. Run scripts/test.sh without it before pushing."
fi

if ((cargo_status != 0)); then
    log "cargo test failed (exit status $cargo_status)"
    exit "$cargo_status"
fi
if ((check_status != 0)); then
    exit "$check_status"
fi

# The end-to-end suite: real npm clients (urql, Apollo Client, codegen) and GraphiQL in
# Chromium against the server binary. Needs Node 20+, npm and Chromium (installed by
# e2e/run.sh with apt-get when missing).
if [[ "${SKIP_E2E:-}" == 1 ]]; then
    loud "SKIP_E2E=1: the end-to-end suite (e2e/run.sh) did NOT run."
elif (($# > 0)); then
    log "cargo test arguments were given: the end-to-end suite is not run (run e2e/run.sh for it)"
else
    e2e/run.sh
fi
