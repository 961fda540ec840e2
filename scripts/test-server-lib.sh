# Shared by the throwaway test-server and benchmark scripts (mongo-test-server.sh,
# llama-test-server.sh, bench-nodes.sh, bench-peers.sh): messages on stderr, tool checks, a lock
# around installs, a free loopback port, the servers a script started. Sourced, not run; the
# sourcing script sets LOG_NAME first.

log() { printf '[%s] %s\n' "$LOG_NAME" "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but was not found in PATH"; }

# Runs "$@" while holding an exclusive lock on file $1 (serialises concurrent installs).
with_lock() {
    local lock="$1"
    shift
    mkdir -p "$(dirname "$lock")"
    if command -v flock >/dev/null 2>&1; then
        (
            flock 9
            "$@"
        ) 9>"$lock"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# The servers a script started (`pids+=("$!")`), stopped together by stop_all.
pids=()
stop_all() {
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
}
