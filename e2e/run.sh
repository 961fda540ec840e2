#!/usr/bin/env bash
# End-to-end suite: real npm GraphQL clients against the real quiz-llm binary.
#
#   e2e/run.sh                       everything
#   e2e/run.sh test/urql.test.mjs    only some test files (paths relative to e2e/)
#
# Steps: build the server (cargo build --bin quiz-llm), install Chromium and faketime from apt
# when missing, `npm ci` when node_modules is missing or does not match
# package-lock.json, GraphQL Code Generator (fails when an operation in operations/ no longer
# matches ../schema.graphql), `tsc --noEmit`, then `node --test` (TAP output: `# pass N`,
# `# fail N`). Each test file starts its own server on a free port with a temporary SQLite
# database and mail folder.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/quiz-llm/target, as in .ci/run),
# CHROMIUM_PATH (default /usr/bin/chromium), E2E_SERVER_LOG=1 to echo the servers' logs,
# E2E_CONCURRENCY (test files run at once, default 4).
set -euo pipefail

E2E_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_DIR="$(dirname "$E2E_DIR")"
started=$SECONDS
phase_start=$SECONDS

say() { printf 'e2e: %s\n' "$*"; }
fail() { printf 'e2e: FAILED: %s\n' "$*" >&2; exit 1; }
phase_done() { say "$1 ($((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }

# --- tools ---------------------------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || fail "cargo is not installed"
command -v node >/dev/null 2>&1 || fail "node is not installed (Node 20 or newer is needed)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  fail "Node $(node --version) is too old: Node 20 or newer is needed"
say "node $(node --version), npm $(npm --version), $(cargo --version)"

# --- the server binary ---------------------------------------------------------------------
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quiz-llm/target}"
mkdir -p "$CARGO_TARGET_DIR"
say "building the server: cargo build --bin quiz-llm (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$REPO_DIR" && cargo build --bin quiz-llm) || fail "cargo build failed"
export QUIZ_LLM_BIN="$CARGO_TARGET_DIR/debug/quiz-llm"
[[ -x "$QUIZ_LLM_BIN" ]] || fail "no server binary at $QUIZ_LLM_BIN after the build"
phase_done "server binary: $QUIZ_LLM_BIN"

# --- Debian packages: Chromium (never a browser download) and libfaketime -----------------------
apt_install() { # $1 = package
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || fail "$1 is missing; install it: apt-get install -y $1"
    sudo=(sudo)
  fi
  say "installing $1: apt-get install -y $1"
  "${sudo[@]}" apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$1" >/dev/null ||
    fail "apt-get install $1 failed"
}
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  [[ "$CHROMIUM_PATH" == /usr/bin/chromium ]] || fail "CHROMIUM_PATH=$CHROMIUM_PATH does not exist"
  apt_install chromium
  [[ -x "$CHROMIUM_PATH" ]] || fail "chromium was installed but $CHROMIUM_PATH is missing"
  phase_done "Chromium installed"
fi
# The review test restarts the server with its clock a day ahead.
if ! command -v faketime >/dev/null 2>&1; then
  apt_install faketime
  phase_done "faketime installed"
fi
say "browser: $("$CHROMIUM_PATH" --version 2>/dev/null | tail -n1)"

# --- npm packages --------------------------------------------------------------------------
cd "$E2E_DIR"
lock_stamp="node_modules/.e2e-lock.sha256"
want_stamp="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$lock_stamp" || "$(cat "$lock_stamp")" != "$want_stamp" ]]; then
  say "installing npm packages: npm ci"
  npm ci --no-audit --no-fund || fail "npm ci failed"
  echo "$want_stamp" >"$lock_stamp"
  phase_done "npm packages installed"
else
  say "npm packages are up to date with package-lock.json"
fi

# --- GraphQL Code Generator + TypeScript ---------------------------------------------------
say "codegen: typed documents for operations/*.graphql against ../schema.graphql"
node_modules/.bin/graphql-codegen --config codegen.yml ||
  fail "GraphQL Code Generator failed: an operation in e2e/operations does not match ../schema.graphql (see above)"
say "tsc --noEmit: src/typed-usage.ts and the refresh pieces against the generated types"
node_modules/.bin/tsc --noEmit -p tsconfig.json || fail "tsc --noEmit found type errors (see above)"
phase_done "codegen and type check passed"

# --- tests ---------------------------------------------------------------------------------
targets=("$@")
((${#targets[@]})) || targets=(test/)
say "running: node --test ${targets[*]}"
if ! node --test --test-reporter=tap --test-concurrency="${E2E_CONCURRENCY:-4}" "${targets[@]}"; then
  fail "tests failed ($((SECONDS - started)) s in all); screenshots, if any, are in e2e/artifacts/"
fi
phase_done "tests passed"
say "all green in $((SECONDS - started)) s; screenshots in e2e/artifacts/"
