#!/usr/bin/env bash
# The whole test suite, on both stores.
#
# Usage: scripts/test.sh [cargo test arguments...]
#
# Starts a throwaway MongoDB-wire test server (scripts/mongo-test-server.sh: mongo-java-server,
# needs Java 17 and Maven on the first run), runs `cargo test --all-targets` with
# MONGODB_TEST_URL pointing at it, stops the server, and prints how many store tests passed and
# failed on SQLite and on MongoDB. It fails when the MongoDB variants did not run, or when the
# two stores did not run the same number of tests. Then, when no arguments were given, it runs
# the end-to-end suite (e2e/run.sh).
#
# Environment:
#   MONGODB_TEST_URL  already set: test against that server (e.g. `docker compose up -d mongo`,
#                     then MONGODB_TEST_URL=mongodb://localhost:27017); none is started
#   SKIP_MONGO=1      no MongoDB at all: the SQLite tests only (with a loud warning)
#   SKIP_E2E=1        skip the end-to-end suite (e2e/run.sh), which needs Node 20+ and Chromium
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[test.sh] %s\n' "$*" >&2; }

loud() {
    printf '\n' >&2
    printf '!!! %s\n' "$@" >&2
    printf '\n' >&2
}

started_server=0
log_file="$(mktemp "${TMPDIR:-/tmp}/quiz-llm-test.XXXXXX")"

cleanup() {
    local status=$?
    if ((started_server)); then
        scripts/mongo-test-server.sh stop || log "could not stop the MongoDB test server"
    fi
    rm -f "$log_file"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip_mongo=0
if [[ "${SKIP_MONGO:-}" == 1 ]]; then
    skip_mongo=1
    unset MONGODB_TEST_URL
    loud "SKIP_MONGO=1: the MongoDB variants of the tests will NOT run; only SQLite is tested."
elif [[ -n "${MONGODB_TEST_URL:-}" ]]; then
    log "MONGODB_TEST_URL is set: testing against that server (none is started)"
else
    # The assignment keeps a failed start fatal (`eval "$(...)"` alone would hide it).
    exports="$(scripts/mongo-test-server.sh start)"
    eval "$exports"
    started_server=1
fi

# libtest's own output is not coloured into a pipe; cargo's may be.
if [[ -t 1 && -z "${CARGO_TERM_COLOR:-}" ]]; then
    export CARGO_TERM_COLOR=always
fi

cargo_status=0
cargo test --all-targets --no-fail-fast "$@" 2>&1 | tee "$log_file" || cargo_status=$?

# Result lines look like `test sqlite::some_test ... ok`; -o also finds one that other output
# (the tests' own stderr) was written into.
count() { # $1 = store module, $2 = outcome
    { grep -oE "test $1::[^ ]+ \.\.\. $2" "$log_file" || true; } | wc -l | tr -d ' '
}
sqlite_ok="$(count sqlite ok)"
sqlite_failed="$(count sqlite FAILED)"
sqlite_ignored="$(count sqlite ignored)"
mongo_ok="$(count mongodb ok)"
mongo_failed="$(count mongodb FAILED)"
mongo_ignored="$(count mongodb ignored)"
sqlite_total=$((sqlite_ok + sqlite_failed + sqlite_ignored))
mongo_total=$((mongo_ok + mongo_failed + mongo_ignored))

echo
summary="store totals: sqlite $sqlite_ok passed, $sqlite_failed failed; "
if ((skip_mongo)); then
    # The MongoDB variants return at once without a URL; counting them as passed would lie.
    summary+="mongodb not run (SKIP_MONGO=1)"
else
    summary+="mongodb $mongo_ok passed, $mongo_failed failed"
fi
if ((sqlite_ignored + mongo_ignored > 0)); then
    summary+=" (ignored: sqlite $sqlite_ignored, mongodb $mongo_ignored)"
fi
echo "$summary"

check_status=0
if ((skip_mongo)); then
    loud "SKIP_MONGO=1: the MongoDB variants did NOT run. Run scripts/test.sh without it before pushing."
elif grep -q "MONGODB_TEST_URL is not set" "$log_file"; then
    loud "Some MongoDB tests skipped themselves: MONGODB_TEST_URL did not reach them."
    check_status=1
elif ((mongo_total == 0)); then
    if ((sqlite_total == 0 && $# > 0)); then
        log "the selected tests include no store tests; nothing to compare"
    else
        loud "No MongoDB test ran: the MongoDB variants of the store tests did not run."
        check_status=1
    fi
elif ((mongo_total != sqlite_total)); then
    loud "SQLite ran $sqlite_total store tests but MongoDB ran $mongo_total: the two stores must run the same tests."
    check_status=1
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
