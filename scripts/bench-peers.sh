#!/usr/bin/env bash
# Our server beside Keycloak 26 on this machine, one after the other, at the same concurrency
# and duration: Keycloak's refresh_token grant and userinfo beside our refreshToken and me,
# and password login beside password login at the same argon2id cost (19 MiB, 2 passes, 1 lane:
# our default, set on Keycloak too). Prints req/s, the server's CPU seconds (from
# /proc/<pid>/stat before and after), requests per server CPU-second, the server's RSS at rest
# and under load, and the load generator's own CPU.
#
# Usage: scripts/bench-peers.sh [--connections 32] [--duration 6s] [--warm-up 10s]
#
# The load generator is oha (crates.io), with one exception: our refreshToken rotates the
# session on every call, so each request must carry the token the previous one returned, which
# a generator of fixed requests cannot do; examples/load.rs (one session per connection) drives
# it, and drives `me` as well so that the two generators can be compared on one operation.
# Keycloak's refresh grant accepts the same refresh token again (its default, refresh tokens
# are not revoked on use), so oha sends one token from every connection.
#
# Fetched once and cached under $QUIZ_LLM_CACHE (default ~/.cache/quiz-llm):
#   keycloak/   Keycloak's server distribution, org.keycloak:keycloak-quarkus-dist:zip, by mvn
#               from Maven Central (runs on Java 17 or newer: `java` must be on PATH)
#   tools/bin/  oha, by `cargo install --locked` from crates.io
# Keycloak runs `start-dev` (its H2 file database, recreated for each run) on 127.0.0.1 with a
# realm, a public client and a user made through its admin REST API.
#
# The figures measure the servers on a machine they share with the generator (and with whatever
# else runs): compare ratios taken in one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

LOG_NAME=bench-peers
# shellcheck source=scripts/test-server-lib.sh
source scripts/test-server-lib.sh

KEYCLOAK_VERSION=26.7.3
OHA_VERSION=1.16.0
CACHE_ROOT="${QUIZ_LLM_CACHE:-$HOME/.cache/quiz-llm}"
PASSWORD="correct horse battery staple"
HASH_MEMORY_KIB=19456
HASH_ITERATIONS=2

connections=32
duration=6s
warm_up=10s
while (($#)); do
    case "$1" in
    --connections) connections="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warm-up) warm_up="$2"; shift 2 ;;
    *) echo "usage: $0 [--connections N] [--duration D] [--warm-up D]" >&2; exit 2 ;;
    esac
done
seconds() { # 6s, 500ms, 1m -> seconds
    python3 -c 'import re, sys
m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", sys.argv[1])
if not m: sys.exit(f"not a duration: {sys.argv[1]}")
print(float(m[1]) * {"ms": 0.001, "s": 1, "m": 60}[m[2]])' "$1"
}
duration_s="$(seconds "$duration")"
seconds "$warm_up" >/dev/null

for tool in java mvn cargo curl jq unzip python3; do need "$tool"; done

# --- tools, fetched once -------------------------------------------------------------------

oha="$CACHE_ROOT/tools/bin/oha"
install_oha() {
    [[ -x "$oha" ]] && return 0
    log "cargo install oha $OHA_VERSION into $CACHE_ROOT/tools (a few minutes, once) ..."
    # Its own temporary target folder, removed afterwards, not the project's.
    env -u CARGO_TARGET_DIR cargo install oha --version "$OHA_VERSION" --locked \
        --root "$CACHE_ROOT/tools" >&2
}
with_lock "$CACHE_ROOT/tools/.oha.lock" install_oha

keycloak_home="$CACHE_ROOT/keycloak/keycloak-$KEYCLOAK_VERSION"
install_keycloak() {
    [[ -x "$keycloak_home/bin/kc.sh" ]] && return 0
    local zip="$CACHE_ROOT/keycloak/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
    if [[ ! -f "$zip" ]]; then
        log "mvn: org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip ..."
        mvn -B -q dependency:copy \
            "-Dartifact=org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
            "-DoutputDirectory=$CACHE_ROOT/keycloak" >&2
    fi
    (cd "$CACHE_ROOT/keycloak" && unzip -q -o "$zip")
}
with_lock "$CACHE_ROOT/keycloak/.install.lock" install_keycloak

cargo build --release --bin quiz-llm --example load
release="${CARGO_TARGET_DIR:-target}/release"

# --- measuring -----------------------------------------------------------------------------

work="$(mktemp -d "${TMPDIR:-/tmp}/quiz-llm-peers.XXXXXX")"
cleanup() {
    local status=$?
    stop_all
    if ((status == 0)); then
        rm -rf "$work"
    else
        log "failed; the servers' logs are kept in $work"
    fi
}
trap cleanup EXIT

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
        "/proc/$1/stat"
}
rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# Samples the RSS of $1 every 200 ms into $2 (its largest value), until killed.
watch_rss() {
    local pid=$1 out=$2 most=0 now
    while kill -0 "$pid" 2>/dev/null; do
        now="$(rss_mib "$pid" 2>/dev/null || echo 0)"
        ((now > most)) && most=$now && echo "$most" >"$out"
        sleep 0.2
    done
}

wait_for() { # $1 = URL that must answer 2xx, $2 = seconds
    for _ in $(seq 1 $(($2 * 5))); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    die "$1 never answered"
}

results="$work/results.tsv"
printf 'side\toperation\treq/s\tp50 ms\tp99 ms\tfailed\tserver CPU-s\treq per CPU-s\tRSS under load MiB\tgenerator\tgenerator cores\n' >"$results"

# Runs oha against server $2 for the duration (after an unmeasured warm-up of the same
# requests) and appends a row for side $1, operation $3. The rest are oha's request options.
# `check` (a jq filter on one response body that must hold) guards against measuring errors.
measure_oha() {
    local side=$1 pid=$2 operation=$3 check=$4
    shift 4
    local name="${side}-${operation//[^a-zA-Z]/_}"
    "$oha" --no-tui -w -z "$warm_up" -c "$connections" "$@" >/dev/null
    local before after rss_file="$work/$name.rss" sampler
    echo 0 >"$rss_file"
    watch_rss "$pid" "$rss_file" &
    sampler=$!
    before="$(cpu_seconds "$pid")"
    local TIMEFORMAT='%U %S'
    { time "$oha" --no-tui -w --output-format json -z "$duration" -c "$connections" "$@" \
        >"$work/$name.json"; } 2>"$work/$name.time"
    after="$(cpu_seconds "$pid")"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    # One more request, as the run's last ones were: its body must still be a success.
    curl -sS -o "$work/$name.last" "${curl_args[@]}"
    jq -e "$check" "$work/$name.last" >/dev/null ||
        die "$side $operation: the server answered $(head -c 300 "$work/$name.last")"
    jq -r --arg side "$side" --arg op "$operation" --arg cpu "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }')" \
        --arg rss "$(cat "$rss_file")" --arg gen "$(awk '{ print $1 + $2 }' "$work/$name.time")" \
        --arg secs "$duration_s" '
        (.summary.requestsPerSec) as $rps
        | ([.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value]
           | add // 0) as $bad
        | ((.errorDistribution // {}) | [.[]] | add // 0) as $errors
        | [$side, $op, ($rps | floor), (.latencyPercentiles.p50 * 1000 * 100 | round / 100),
           (.latencyPercentiles.p99 * 1000 * 100 | round / 100), ($bad + $errors), $cpu,
           (if ($cpu | tonumber) > 0 then ($rps * ($secs | tonumber) / ($cpu | tonumber) | floor)
            else "-" end), $rss, "oha",
           (($gen | tonumber) / ($secs | tonumber) * 100 | round / 100)]
        | @tsv' "$work/$name.json" >>"$results"
}

# --- our server ----------------------------------------------------------------------------

log "seeding our database and starting the release server ..."
"$release/examples/load" --seed-only "$work/quiz.db" --connections "$connections" >/dev/null
port="$(free_port)"
rate_limits=()
for var in LOGIN_PER_ACCOUNT LOGIN_PER_ACCOUNT_GLOBAL LOGIN_PER_CLIENT SIGNUP_PER_CLIENT \
    MAIL_PER_ADDRESS MAIL_PER_CLIENT REFRESH_PER_SESSION GENERATE_PER_USER SUBMIT_PER_USER; do
    rate_limits+=("RATE_LIMIT_$var=100000/1m")
done
env -i PATH="$PATH" \
    DATABASE_URL="sqlite://$work/quiz.db" \
    LISTEN_ADDR="127.0.0.1:$port" \
    JWT_SECRET="bench-peers-secret-bench-peers-secret-0123" \
    MAIL_DIR="$work/mail" \
    SHUTDOWN_DRAIN=0 \
    PWNED_PASSWORDS_URL=off \
    PASSWORD_HASH_MEMORY_KIB="$HASH_MEMORY_KIB" \
    PASSWORD_HASH_ITERATIONS="$HASH_ITERATIONS" \
    RUST_LOG=warn \
    "${rate_limits[@]}" \
    "$release/quiz-llm" serve >"$work/quiz.log" 2>&1 &
ours=$!
pids+=("$ours")
wait_for "http://127.0.0.1:$port/readyz" 30
ours_at_rest="$(rss_mib "$ours")"
# What the stored hashes cost (the PHC string's parameters; the seeded users share one hash).
ours_hash="$(python3 -c 'import sqlite3, sys
phc = sqlite3.connect(sys.argv[1]).execute("SELECT password_hash FROM users LIMIT 1").fetchone()[0]
print(" ".join(phc.split("$")[1:4]))' "$work/quiz.db")"

graphql="http://127.0.0.1:$port/graphql"
login_body="$(jq -cn --arg p "$PASSWORD" '{query: "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }", variables: {u: "load00000", p: $p}}')"
# Without an Origin header the server treats the caller as a native client: the access token
# comes in the body, to be sent as `Authorization: Bearer`.
token="$(curl -fsS -H 'content-type: application/json' -d "$login_body" "$graphql" |
    jq -er '.data.login.accessToken')"

me_body='{"query":"{ me { id username } }"}'
curl_args=(-H 'content-type: application/json' -H "authorization: Bearer $token" -d "$me_body" "$graphql")
measure_oha ours "$ours" "me { id username }" '.data.me.id' \
    -m POST -T application/json -H "authorization: Bearer $token" -d "$me_body" "$graphql"
me_email_body='{"query":"{ me { id username email } }"}'
curl_args=(-H 'content-type: application/json' -H "authorization: Bearer $token" -d "$me_email_body" "$graphql")
measure_oha ours "$ours" "me { id username email }" '.data.me.email' \
    -m POST -T application/json -H "authorization: Bearer $token" -d "$me_email_body" "$graphql"
curl_args=(-H 'content-type: application/json' -d "$login_body" "$graphql")
measure_oha ours "$ours" "login (argon2id)" '.data.login.accessToken' \
    -m POST -T application/json -d "$login_body" "$graphql"

# refreshToken (and me, to compare the generators) by examples/load.rs, one session per
# connection; its table has req/s, p50, p99, errors, ×typename, server cores, µs/req,
# generator cores and RSS.
echo 0 >"$work/load.rss"
watch_rss "$ours" "$work/load.rss" &
sampler=$!
"$release/examples/load" --url "http://127.0.0.1:$port" --connections "$connections" \
    --duration "$duration" --only me --only refresh-token --server-pid "$ours" >"$work/load.txt"
kill "$sampler" 2>/dev/null || true
awk -v secs="$duration_s" -v rss="$(cat "$work/load.rss")" '
    $1 == "me" || $1 == "refreshToken" {
        op = ($1 == "me") ? "me { id username } (load.rs)" : "refreshToken"
        cpu = $7 * secs
        printf "ours\t%s\t%d\t%s\t%s\t%s\t%.2f\t%d\t%s\tload.rs\t%s\n",
            op, $2, $3, $4, $5, cpu, (cpu > 0 ? $2 * secs / cpu : 0), rss, $9
    }' "$work/load.txt" >>"$results"
ours_after="$(rss_mib "$ours")"
stop_all

# --- Keycloak ------------------------------------------------------------------------------

log "starting Keycloak $KEYCLOAK_VERSION (start-dev, a fresh H2 database) ..."
rm -rf "$keycloak_home/data/h2"
kc_port="$(free_port)"
admin_password="bench-$RANDOM-$RANDOM"
KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" \
    "$keycloak_home/bin/kc.sh" start-dev --http-host=127.0.0.1 --http-port="$kc_port" \
    --http-management-port="$(free_port)" \
    --spi-password-hashing--argon2--memory="$HASH_MEMORY_KIB" \
    --spi-password-hashing--argon2--iterations="$HASH_ITERATIONS" \
    --spi-password-hashing--argon2--parallelism=1 \
    >"$work/keycloak.log" 2>&1 &
pids+=($!)
kc="http://127.0.0.1:$kc_port"
wait_for "$kc/realms/master" 180
# kc.sh execs java: the server is the java process under the script.
keycloak="$(pgrep -f -n "kc.home.dir=$keycloak_home" || true)"
[[ -n "$keycloak" ]] || die "cannot find Keycloak's java process"

admin_token="$(curl -fsS -d grant_type=password -d client_id=admin-cli -d username=admin \
    --data-urlencode "password=$admin_password" \
    "$kc/realms/master/protocol/openid-connect/token" | jq -er .access_token)"
admin() { # METHOD PATH JSON
    curl -fsS -X "$1" -H "authorization: Bearer $admin_token" -H 'content-type: application/json' \
        -d "$3" "$kc/admin$2" >/dev/null
}
# Access tokens last an hour so that none expires during the run; argon2id at our cost.
admin POST /realms '{"realm": "bench", "enabled": true, "accessTokenLifespan": 3600,
    "passwordPolicy": "hashAlgorithm(argon2)"}'
admin POST /realms/bench/clients '{"clientId": "bench", "publicClient": true,
    "directAccessGrantsEnabled": true, "standardFlowEnabled": false}'
admin POST /realms/bench/users "$(jq -cn --arg p "$PASSWORD" '{username: "bench",
    enabled: true, email: "bench@example.com", emailVerified: true, firstName: "Bench",
    lastName: "User", credentials: [{type: "password", value: $p, temporary: false}]}')"
kc_token_url="$kc/realms/bench/protocol/openid-connect/token"
kc_login_body="grant_type=password&client_id=bench&username=bench&password=$(jq -rn --arg p "$PASSWORD" '$p | @uri')&scope=openid"
tokens="$(curl -fsS -d "$kc_login_body" "$kc_token_url")"
kc_access="$(jq -er .access_token <<<"$tokens")"
kc_refresh="$(jq -er .refresh_token <<<"$tokens")"
keycloak_at_rest="$(rss_mib "$keycloak")"
user_id="$(curl -fsS -H "authorization: Bearer $admin_token" \
    "$kc/admin/realms/bench/users?username=bench&exact=true" | jq -er '.[0].id')"
keycloak_hash="$(curl -fsS -H "authorization: Bearer $admin_token" \
    "$kc/admin/realms/bench/users/$user_id/credentials" |
    jq -er '.[] | select(.type == "password") | .credentialData | fromjson
        | "\(.algorithm) type=\(.additionalParameters.type[0]) m=\(.additionalParameters.memory[0]),t=\(.hashIterations),p=\(.additionalParameters.parallelism[0])"')"

userinfo="$kc/realms/bench/protocol/openid-connect/userinfo"
curl_args=(-H "authorization: Bearer $kc_access" "$userinfo")
measure_oha keycloak "$keycloak" userinfo '.sub' -H "authorization: Bearer $kc_access" "$userinfo"
kc_refresh_body="grant_type=refresh_token&client_id=bench&refresh_token=$kc_refresh"
curl_args=(-d "$kc_refresh_body" "$kc_token_url")
measure_oha keycloak "$keycloak" "refresh_token grant" '.access_token' \
    -m POST -T application/x-www-form-urlencoded -d "$kc_refresh_body" "$kc_token_url"
curl_args=(-d "$kc_login_body" "$kc_token_url")
measure_oha keycloak "$keycloak" "password grant (argon2id)" '.access_token' \
    -m POST -T application/x-www-form-urlencoded -d "$kc_login_body" "$kc_token_url"
keycloak_after="$(rss_mib "$keycloak")"
stop_all

# --- the table -----------------------------------------------------------------------------

echo
echo "$(date -u +%F), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
    "$connections connections, $warm_up warm-up, $duration measured per operation"
column -t -s $'\t' "$results"
echo
echo "RSS at rest (after start-up and setup) / after the run: ours ${ours_at_rest} / ${ours_after} MiB," \
    "Keycloak ${keycloak_at_rest} / ${keycloak_after} MiB"
echo "stored password hashes: ours $ours_hash; Keycloak $keycloak_hash"
echo "tokens: ours signed HS256, Keycloak RS256"
python3 - "$results" <<'EOF'
import csv, sys
rows = {(r["side"], r["operation"]): r for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")}
pairs = [
    ("refreshToken", "refresh_token grant"),
    ("me { id username }", "userinfo"),
    ("me { id username email }", "userinfo"),
    ("login (argon2id)", "password grant (argon2id)"),
]
print("\nours / Keycloak          req/s    req per server CPU-second")
for ours, theirs in pairs:
    a, b = rows.get(("ours", ours)), rows.get(("keycloak", theirs))
    if not a or not b:
        continue
    ratio = lambda k: float(a[k]) / float(b[k]) if float(b[k]) else float("nan")
    print(f"{ours + ' / ' + theirs:<48} {ratio('req/s'):>6.1f}× {ratio('req per CPU-s'):>8.1f}×")
EOF
