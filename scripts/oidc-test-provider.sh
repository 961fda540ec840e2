#!/usr/bin/env bash
# A real OpenID Connect provider for tests and CI, on 127.0.0.1 only: oidc-provider from the npm
# registry (the exact version pinned in tests/support/oidc-provider/package-lock.json), run by
# tests/support/oidc-provider/server.mjs. Needs Node 20+ and npm.
#
# Usage:
#   eval "$(scripts/oidc-test-provider.sh install)"
#       # `npm ci` into ~/.cache/quiz-llm/oidc-provider/<hash of package.json and the lock>/
#       # (seconds, once per lock; at once when cached) and exports OIDC_TEST_PROVIDER_DIR
#   scripts/oidc-test-provider.sh run
#       # installs, then runs the provider in the foreground (PORT, OIDC_TEST_CLIENTS and
#       # OIDC_TEST_ACCOUNTS as server.mjs describes); its issuer line goes to stdout
#
# The tests (tests/api/common/oidc.rs) start a provider of their own for each test; they find
# it through OIDC_TEST_PROVIDER_DIR, or in the cache folder of the current lock.
#
# Environment:
#   QUIZ_LLM_CACHE   cache root (default: $HOME/.cache/quiz-llm)
#
# Only the `export` line of `install` goes to stdout; every other message goes to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CACHE_ROOT="${QUIZ_LLM_CACHE:-$HOME/.cache/quiz-llm}"
SOURCE_DIR="$REPO_ROOT/tests/support/oidc-provider"

LOG_NAME=oidc-test-provider
# shellcheck source=scripts/test-server-lib.sh
source "$SCRIPT_DIR/test-server-lib.sh"

# The install folder is named after package.json and the lock, so a changed pin installs anew
# beside the old one (other clones may still use it). tests/api/common/oidc.rs computes the
# same name.
lock_key() { cat "$SOURCE_DIR/package.json" "$SOURCE_DIR/package-lock.json" | sha256sum | cut -c1-16; }
home_dir() { printf '%s/oidc-provider/%s' "$CACHE_ROOT" "$(lock_key)"; }
installed() { [[ -f "$(home_dir)/.complete" ]]; }

need_node() {
    need node
    need npm
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
        die "Node $(node --version) is too old: oidc-provider needs Node 20 or newer"
}

build() {
    installed && return 0
    local home work started=$SECONDS
    home="$(home_dir)"
    mkdir -p "$(dirname "$home")"
    work="$(mktemp -d "$(dirname "$home")/.build.XXXXXX")"
    chmod 755 "$work"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" EXIT
    cp "$SOURCE_DIR/package.json" "$SOURCE_DIR/package-lock.json" "$work/"
    log "npm ci (oidc-provider $(version_pinned)) into $home ..."
    # No package of this lock needs an install script.
    if ! (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund) >"$work/npm.log" 2>&1; then
        tail -n 40 "$work/npm.log" >&2 || true
        die "npm ci failed for $SOURCE_DIR/package-lock.json (last 40 lines of its log above)"
    fi
    (cd "$work" && node -e 'require.resolve("oidc-provider")') ||
        die "npm ci finished but oidc-provider cannot be resolved in $work"
    rm -f "$work/npm.log"
    touch "$work/.complete"
    rm -rf "$home"
    mv "$work" "$home"
    trap - EXIT
    log "installed oidc-provider $(version_pinned) in $home in $((SECONDS - started)) s"
}

version_pinned() {
    node -e 'const lock = require(process.argv[1]);
process.stdout.write(lock.packages["node_modules/oidc-provider"].version)' \
        "$SOURCE_DIR/package-lock.json"
}

cmd_install() {
    need_node
    [[ -f "$SOURCE_DIR/package-lock.json" ]] || die "$SOURCE_DIR/package-lock.json is missing"
    if installed; then
        log "using cached oidc-provider $(version_pinned) in $(home_dir)"
    else
        with_lock "$CACHE_ROOT/oidc-provider/.install.lock" build
        installed || die "the install did not complete in $(home_dir)"
    fi
    printf 'export OIDC_TEST_PROVIDER_DIR=%q\n' "$(home_dir)"
}

cmd_run() {
    cmd_install >/dev/null
    OIDC_TEST_PROVIDER_DIR="$(home_dir)" exec node "$SOURCE_DIR/server.mjs"
}

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; }

case "${1:-}" in
    install) cmd_install ;;
    run) cmd_run ;;
    -h | --help | help) usage ;;
    *)
        usage
        exit 2
        ;;
esac
