#!/usr/bin/env bash
# Throwaway MongoDB-wire-protocol server for tests and CI (no Docker, no mongod needed):
# mongo-java-server (de.bwaldvogel, in-memory backend) from Maven Central, run by
# tests/support/MongoJavaTestServer.java (needs java+javac 17, mvn and python3).
#
# Usage:
#   scripts/mongo-test-server.sh install     # install/cache the server, print its launcher
#                                            # (`java -cp … MongoJavaTestServer HOST PORT`)
#   eval "$(scripts/mongo-test-server.sh start)"
#       # exports MONGODB_TEST_URL, MONGO_TEST_SERVER_PID, MONGO_TEST_SERVER_DIR
#   scripts/mongo-test-server.sh ping [URL]  # exit 0 iff URL (default $MONGODB_TEST_URL) answers ping
#   scripts/mongo-test-server.sh stop        # kills $MONGO_TEST_SERVER_PID, removes $MONGO_TEST_SERVER_DIR
#
# What the server supports: unique indexes (E11000 on insert and update), compound indexes,
# $push/$each/$slice, $pull with a condition, arrayFilters, positional $ after a dotted filter
# ({"sessions.id": x}), findAndModify, sort/limit/skip, count. NOT: positional $ after
# {$elemMatch: ...} unless the $elemMatch lists every field of the element (use arrayFilters
# instead), pipeline updates ([{$set: ...}]), sessions/transactions (the Rust driver reports
# SessionsNotSupported).
#
# Environment:
#   QUIZ_LLM_CACHE             cache root (default: $HOME/.cache/quiz-llm)
#   MONGO_JAVA_SERVER_VERSION  de.bwaldvogel:mongo-java-server-memory-backend version (default: 1.47.0)
#   MONGO_TEST_START_TIMEOUT   seconds to wait for the first ping (default: 60)
#
# Only the `export` lines of `start` (and the launcher printed by `install`) go to stdout;
# every other message goes to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE_ROOT="${QUIZ_LLM_CACHE:-$HOME/.cache/quiz-llm}"
START_TIMEOUT="${MONGO_TEST_START_TIMEOUT:-60}"
MARKER=".quiz-llm-mongo-test-server"

MJS_GROUP="de.bwaldvogel"
MJS_ARTIFACT="mongo-java-server-memory-backend"
MJS_VERSION="${MONGO_JAVA_SERVER_VERSION:-1.47.0}"
MAVEN_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
JAVA_LAUNCHER_SRC="$REPO_ROOT/tests/support/MongoJavaTestServer.java"
JAVA_LAUNCHER_CLASS="MongoJavaTestServer"

LOG_NAME=mongo-test-server
# shellcheck source=scripts/test-server-lib.sh
source "$SCRIPT_DIR/test-server-lib.sh"

# --- mongo-java-server -----------------------------------------------------------

java_home_dir() { printf '%s/mongo-java-server/%s' "$CACHE_ROOT" "$MJS_VERSION"; }

# Compiled launcher classes live in a directory named after the launcher's hash, so an
# edited launcher is recompiled automatically.
java_classes_dir() {
    local sum
    sum="$(sha256sum "$JAVA_LAUNCHER_SRC" | cut -c1-16)"
    printf '%s/classes-%s' "$(java_home_dir)" "$sum"
}

java_classpath() { printf '%s:%s/lib/*' "$(java_classes_dir)" "$(java_home_dir)"; }

java_installed() {
    [[ -f "$(java_home_dir)/lib/.complete" && -f "$(java_classes_dir)/$JAVA_LAUNCHER_CLASS.class" ]]
}

java_build() {
    java_installed && return 0
    local home work started=$SECONDS
    home="$(java_home_dir)"
    mkdir -p "$home"

    if [[ ! -f "$home/lib/.complete" ]]; then
        need mvn
        log "fetching $MJS_GROUP:$MJS_ARTIFACT:$MJS_VERSION and its dependencies with Maven ..."
        work="$(mktemp -d "$home/.build.XXXXXX")"
        # shellcheck disable=SC2064
        trap "rm -rf '$work'" EXIT
        cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.quiz-llm</groupId>
  <artifactId>mongo-java-test-server-deps</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>$MJS_GROUP</groupId>
      <artifactId>$MJS_ARTIFACT</artifactId>
      <version>$MJS_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
        if ! (cd "$work" && mvn -B -q -f pom.xml "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" \
            -DincludeScope=runtime -DoutputDirectory="$work/lib") >"$work/mvn.log" 2>&1; then
            tail -n 40 "$work/mvn.log" >&2 || true
            die "Maven could not fetch $MJS_GROUP:$MJS_ARTIFACT:$MJS_VERSION (last 40 lines of its log above)"
        fi
        ls "$work/lib"/*.jar >/dev/null 2>&1 || die "Maven fetched no jars for $MJS_GROUP:$MJS_ARTIFACT:$MJS_VERSION"
        touch "$work/lib/.complete"
        rm -rf "$home/lib"
        mv "$work/lib" "$home/lib"
        rm -rf "$work"
        trap - EXIT
    fi

    local classes
    classes="$(java_classes_dir)"
    if [[ ! -f "$classes/$JAVA_LAUNCHER_CLASS.class" ]]; then
        need javac
        log "compiling $JAVA_LAUNCHER_SRC ..."
        rm -rf "$classes.tmp"
        mkdir -p "$classes.tmp"
        if ! javac -nowarn -d "$classes.tmp" -cp "$home/lib/*" "$JAVA_LAUNCHER_SRC" >&2; then
            rm -rf "$classes.tmp"
            die "javac failed for $JAVA_LAUNCHER_SRC"
        fi
        rm -rf "$classes"
        mv "$classes.tmp" "$classes"
        # Drop launcher builds of older launcher sources.
        find "$home" -maxdepth 1 -type d -name 'classes-*' ! -path "$classes" -exec rm -rf {} + 2>/dev/null || true
    fi
    log "installed mongo-java-server $MJS_VERSION in $home in $((SECONDS - started)) s"
}

install_java() {
    [[ -f "$JAVA_LAUNCHER_SRC" ]] || die "launcher source $JAVA_LAUNCHER_SRC is missing"
    if java_installed; then
        log "using cached mongo-java-server $MJS_VERSION in $(java_home_dir)"
        return 0
    fi
    with_lock "$(java_home_dir)/.install.lock" java_build
}

start_java() { # $1 = dir, $2 = port; sets SERVER_PID
    local dir="$1" port="$2"
    need java
    log "starting mongo-java-server $MJS_VERSION (in-memory backend) on 127.0.0.1:$port, dir $dir"
    java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k \
        -cp "$(java_classpath)" "$JAVA_LAUNCHER_CLASS" 127.0.0.1 "$port" \
        </dev/null >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
}

# --- common helpers ---------------------------------------------------------------

# Sends OP_MSG {ping: 1, $db: "admin"} to host:port; exits 0 iff the reply has ok == 1.
# Standard library only (no pymongo).
mongo_ping() {
    python3 - "$1" "$2" <<'PY'
import socket, struct, sys

host, port = sys.argv[1], int(sys.argv[2])

def cstring(s):
    return s.encode() + b"\x00"

def bson_doc(items):
    body = b""
    for key, value in items:
        if isinstance(value, int):
            body += b"\x10" + cstring(key) + struct.pack("<i", value)
        else:
            data = value.encode()
            body += b"\x02" + cstring(key) + struct.pack("<i", len(data) + 1) + data + b"\x00"
    return struct.pack("<i", len(body) + 5) + body + b"\x00"

def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf

def top_level_ok(doc):
    # Walks the top-level elements of a BSON document and returns the value of "ok".
    fixed = {0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
             0x13: 16, 0x7F: 0, 0xFF: 0}
    i, end = 4, struct.unpack_from("<i", doc)[0] - 1
    while i < end:
        t = doc[i]
        j = doc.index(b"\x00", i + 1)
        name = doc[i + 1:j].decode()
        i = j + 1
        if name == "ok":
            if t == 0x01:
                return struct.unpack_from("<d", doc, i)[0]
            if t == 0x10:
                return struct.unpack_from("<i", doc, i)[0]
            if t == 0x12:
                return struct.unpack_from("<q", doc, i)[0]
            if t == 0x08:
                return doc[i]
            return None
        if t in fixed:
            i += fixed[t]
        elif t in (0x02, 0x0D, 0x0E):
            i += 4 + struct.unpack_from("<i", doc, i)[0]
        elif t in (0x03, 0x04):
            i += struct.unpack_from("<i", doc, i)[0]
        elif t == 0x05:
            i += 5 + struct.unpack_from("<i", doc, i)[0]
        else:
            return None
    return None

try:
    payload = struct.pack("<I", 0) + b"\x00" + bson_doc([("ping", 1), ("$db", "admin")])
    msg = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013) + payload  # 2013 = OP_MSG
    with socket.create_connection((host, port), timeout=3) as sock:
        sock.settimeout(5)
        sock.sendall(msg)
        length, _request_id, _response_to, opcode = struct.unpack("<iiii", recv_exact(sock, 16))
        reply = recv_exact(sock, length - 16)
    if opcode != 2013 or reply[4] != 0:
        sys.exit(2)
    sys.exit(0 if top_level_ok(reply[5:]) == 1 else 3)
except Exception:
    sys.exit(1)
PY
}

# --- subcommands ------------------------------------------------------------------

cmd_install() {
    install_java
    printf 'java -cp %q %s HOST PORT\n' "$(java_classpath)" "$JAVA_LAUNCHER_CLASS"
}

cmd_start() {
    need python3
    install_java

    local dir port
    dir="$(mktemp -d "${TMPDIR:-/tmp}/quiz-llm-mongo.XXXXXX")"
    touch "$dir/$MARKER"
    port="$(free_port)"

    local t0=$SECONDS
    SERVER_PID=""
    start_java "$dir" "$port"
    local pid="$SERVER_PID"
    echo "$pid" >"$dir/server.pid"

    local deadline=$((SECONDS + START_TIMEOUT))
    until mongo_ping 127.0.0.1 "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "the server exited during start-up; its log ($dir/server.log):"
            tail -n 40 "$dir/server.log" >&2 || true
            rm -rf "$dir"
            die "mongo-java-server failed to start"
        fi
        if ((SECONDS >= deadline)); then
            log "the server did not answer ping within ${START_TIMEOUT}s; its log ($dir/server.log):"
            tail -n 40 "$dir/server.log" >&2 || true
            kill "$pid" 2>/dev/null || true
            rm -rf "$dir"
            die "mongo-java-server start-up timed out"
        fi
        sleep 0.1
    done
    log "mongo-java-server (pid $pid) answered ping after ~$((SECONDS - t0)) s"

    printf 'export MONGODB_TEST_URL=%q\n' "mongodb://127.0.0.1:$port"
    printf 'export MONGO_TEST_SERVER_PID=%q\n' "$pid"
    printf 'export MONGO_TEST_SERVER_DIR=%q\n' "$dir"
}

cmd_stop() {
    local pid="${MONGO_TEST_SERVER_PID:-}" dir="${MONGO_TEST_SERVER_DIR:-}"
    if [[ -z "$pid" && -n "$dir" && -f "$dir/server.pid" ]]; then
        pid="$(cat "$dir/server.pid")"
    fi
    [[ -n "$pid" || -n "$dir" ]] ||
        die "MONGO_TEST_SERVER_PID / MONGO_TEST_SERVER_DIR are not set (did you eval the output of 'start'?)"

    if [[ -n "$pid" ]]; then
        if kill -0 "$pid" 2>/dev/null; then
            # Refuse to kill a recycled PID that is not one of our servers.
            if [[ -r "/proc/$pid/cmdline" ]] &&
                ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$JAVA_LAUNCHER_CLASS"; then
                log "PID $pid is not a mongo test server; not killing it"
            else
                kill "$pid" 2>/dev/null || true
                local i
                for i in $(seq 1 50); do
                    kill -0 "$pid" 2>/dev/null || break
                    sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                    log "PID $pid did not exit after SIGTERM; sending SIGKILL"
                    kill -9 "$pid" 2>/dev/null || true
                fi
                log "stopped server (pid $pid)"
            fi
        else
            log "server (pid $pid) is not running"
        fi
    fi

    if [[ -n "$dir" ]]; then
        if [[ -d "$dir" && -f "$dir/$MARKER" ]]; then
            rm -rf "$dir"
            log "removed $dir"
        elif [[ -d "$dir" ]]; then
            log "$dir was not created by this script; not removing it"
        fi
    fi
}

cmd_ping() {
    need python3
    local url="${1:-${MONGODB_TEST_URL:-}}"
    [[ -n "$url" ]] || die "usage: $0 ping mongodb://HOST:PORT (or set MONGODB_TEST_URL)"
    local hostport="${url#mongodb://}"
    hostport="${hostport%%/*}"
    hostport="${hostport%%\?*}"
    hostport="${hostport##*@}"
    local host="${hostport%:*}" port="${hostport##*:}"
    [[ "$host" != "$hostport" ]] || port=27017
    if mongo_ping "$host" "$port"; then
        log "ok: $url answered ping"
    else
        die "$url did not answer ping"
    fi
}

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2; }

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install) cmd_install ;;
        start) cmd_start ;;
        stop) cmd_stop ;;
        ping) cmd_ping "$@" ;;
        -h | --help | help) usage ;;
        *)
            usage
            exit 2
            ;;
    esac
}

main "$@"
