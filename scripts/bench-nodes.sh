#!/usr/bin/env bash
# Throughput through the load balancer with one and with three server processes: the release
# server on one seeded SQLite file (WAL), HAProxy with deploy/haproxy.cfg in front, and
# examples/load.rs driving its scenarios through the balancer.
#
# Usage: scripts/bench-nodes.sh [--connections 32] [--duration 5s]
#
# Needs HAProxy (Debian: apt-get install haproxy). With one server process, the configuration's
# three server lines all name it. The load generator, HAProxy and the servers share this
# machine's cores, so the figures measure all of them together; load.rs's own targets are for a
# single server reached directly, and a miss here is reported, not fatal.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOG_NAME=bench-nodes
# shellcheck source=scripts/test-server-lib.sh
source scripts/test-server-lib.sh

connections=32
duration=5s
while (($#)); do
    case "$1" in
    --connections) connections="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    *) echo "usage: $0 [--connections N] [--duration D]" >&2; exit 2 ;;
    esac
done

haproxy="$(command -v haproxy || true)"
[[ -n "$haproxy" ]] || haproxy=/usr/sbin/haproxy
[[ -x "$haproxy" ]] || { echo "bench-nodes: HAProxy is not installed (apt-get install haproxy)" >&2; exit 1; }

cargo build --release --bin quiz-llm --example load
release="${CARGO_TARGET_DIR:-target}/release"

work="$(mktemp -d "${TMPDIR:-/tmp}/quiz-llm-bench.XXXXXX")"
cleanup() {
    stop_all
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU time (user + system, in seconds) the given processes have used so far.
cpu_seconds() {
    local ticks=0 pid
    for pid in "$@"; do
        ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
}

wait_for() { # $1 = URL that must answer 200
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-nodes: $1 never answered" >&2
    exit 1
}

"$release/examples/load" --seed-only "$work/bench.db" --connections "$connections" >/dev/null
echo "seeded $work/bench.db for $connections connections"

rate_limits=()
for var in LOGIN_PER_ACCOUNT LOGIN_PER_ACCOUNT_GLOBAL LOGIN_PER_CLIENT SIGNUP_PER_CLIENT \
    MAIL_PER_ADDRESS MAIL_PER_CLIENT REFRESH_PER_SESSION GENERATE_PER_USER SUBMIT_PER_USER; do
    rate_limits+=("RATE_LIMIT_$var=100000/1m")
done

for count in 1 3; do
    ports=()
    servers=()
    for _ in $(seq 1 "$count"); do
        port="$(free_port)"
        ports+=("$port")
        env -i PATH="$PATH" \
            DATABASE_URL="sqlite://$work/bench.db" \
            LISTEN_ADDR="127.0.0.1:$port" \
            JWT_SECRET="bench-nodes-secret-bench-nodes-secret-0123" \
            MAIL_DIR="$work/mail" \
            TRUSTED_PROXIES=127.0.0.1 \
            SHUTDOWN_DRAIN=0 \
            RUST_LOG=warn \
            "${rate_limits[@]}" \
            "$release/quiz-llm" serve >>"$work/server.log" 2>&1 &
        servers+=($!)
        pids+=($!)
    done
    for port in "${ports[@]}"; do wait_for "http://127.0.0.1:$port/readyz"; done

    lb="$(free_port)"
    stats="$(free_port)"
    QUIZ_LB_BIND="127.0.0.1:$lb" QUIZ_LB_STATS_BIND="127.0.0.1:$stats" \
        QUIZ_NODE_1="127.0.0.1:${ports[0]}" \
        QUIZ_NODE_2="127.0.0.1:${ports[1 % count]}" \
        QUIZ_NODE_3="127.0.0.1:${ports[2 % count]}" \
        "$haproxy" -db -f deploy/haproxy.cfg >/dev/null 2>>"$work/haproxy.log" &
    balancer=$!
    pids+=($!)
    wait_for "http://127.0.0.1:$lb/readyz"
    servers_before="$(cpu_seconds "${servers[@]}")"
    balancer_before="$(cpu_seconds "$balancer")"
    started=$SECONDS

    echo
    echo "=== $count server process(es) behind HAProxy, $connections connections, $duration per scenario ==="
    "$release/examples/load" --url "http://127.0.0.1:$lb" --connections "$connections" \
        --duration "$duration" || echo "(load.rs reported a missed target; see above)"
    echo "CPU over the whole run ($((SECONDS - started)) s, logins included):" \
        "servers $(awk -v a="$servers_before" -v b="$(cpu_seconds "${servers[@]}")" 'BEGIN { printf "%.1f", b - a }') s," \
        "HAProxy $(awk -v a="$balancer_before" -v b="$(cpu_seconds "$balancer")" 'BEGIN { printf "%.1f", b - a }') s"
    stop_all
done
