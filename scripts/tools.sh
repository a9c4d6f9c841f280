#!/usr/bin/env bash
# Installs, idempotently, every tool the build and the tests need on a fresh machine of this kind
# (Debian + rustup; registries only, no GitHub). Each step is skipped when its tool is already there.
# Nothing here downloads a prebuilt binary: every tool comes from crates.io, npm or Debian.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.11"
# npm's binaryen gives a working wasm-opt (Debian's binaryen 108 produces a WASM the browser rejects).
BINARYEN_DIR="$ROOT/node_modules/.bin"

log() { printf '[tools] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_rust_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
}

# strace: the durability tests read the order of the server's system calls (flush, then answer).
ensure_strace() {
  if ! command -v strace >/dev/null 2>&1; then
    log "installing Debian strace"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq strace >/dev/null
  fi
}

# The name of the site's JS, WASM and CSS ([[workspace.metadata.leptos]] name). leptos reads it at
# compile time, so every cargo command of the scripts sets it alike: a build without it would
# recompile leptos and everything above it.
export LEPTOS_OUTPUT_NAME=track-futura

# Optional, for development (`cargo leptos watch`); the scripts build the site without it
# (scripts/build-site). cargo-leptos' own lock pins cargo-util-schemas 0.14.2 (needs rustc 1.96): install from a copy of its
# source with that one crate stepped back.
ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then return; fi
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 17 minutes on 2 cores, once per machine)"
  local src
  src=$(ls -d "$HOME"/.cargo/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" 2>/dev/null | head -n1 || true)
  if [ -z "$src" ]; then
    # Fails at dependency resolution, but leaves the unpacked source in the registry cache.
    cargo install --locked "cargo-leptos@$CARGO_LEPTOS_VERSION" >/dev/null 2>&1 || true
    src=$(ls -d "$HOME"/.cargo/registry/src/*/cargo-leptos-"$CARGO_LEPTOS_VERSION" | head -n1)
  fi
  local tmp
  tmp=$(mktemp -d)
  cp -r "$src"/. "$tmp"
  (cd "$tmp" && cargo update -q -p cargo-util-schemas --precise 0.14.1 && cargo install -q --locked --path .)
  rm -rf "$tmp"
}

# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly (cargo-leptos does not check).
ensure_wasm_bindgen() {
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")
  if wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then return; fi
  log "installing wasm-bindgen-cli $want"
  local src tmp
  src=$(ls -d "$HOME"/.cargo/registry/src/*/wasm-bindgen-cli-"$want" 2>/dev/null | head -n1 || true)
  if [ -z "$src" ]; then
    cargo install --locked "wasm-bindgen-cli@$want" >/dev/null 2>&1 && return 0
    src=$(ls -d "$HOME"/.cargo/registry/src/*/wasm-bindgen-cli-"$want" | head -n1)
  fi
  tmp=$(mktemp -d)
  cp -r "$src"/. "$tmp"
  (cd "$tmp" && { cargo update -q -p webpki-roots --precise 1.0.10 || true; } && cargo install -q --locked --path .)
  rm -rf "$tmp"
}

# PostgreSQL runs on these machines from Debian's packages; start it if it is down. A machine without
# it gets the package and trust auth on 127.0.0.1 (test machines only: this is what the tests expect).
ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
    local hba
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return
    sleep 1
  done
  log "PostgreSQL did not come up on 127.0.0.1:5432"
  return 1
}

# What building the release (server + WASM, scripts/build-site) needs.
ensure_build_tools() {
  ensure_rust_target
  ensure_wasm_bindgen
  if [ ! -x "$BINARYEN_DIR/wasm-opt" ]; then
    log "installing binaryen (wasm-opt) from npm"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export PATH="$BINARYEN_DIR:$HOME/.cargo/bin:$PATH"
}

# python3: scripts/docker-recipe and the tests' fake ngrok agent.
ensure_python3() {
  if ! command -v python3 >/dev/null 2>&1; then
    log "installing Debian python3"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3 >/dev/null
  fi
}

# pyarrow, Apache Arrow's Python reader, for the browser tests to read a Parquet download back
# (end2end/readers/read_export.py), installed from PyPI into end2end/.pylib: the project's own
# folder, not the system's Python.
PYARROW_VERSION="26.0.1"
ensure_export_readers() {
  local dir="$ROOT/end2end/.pylib"
  if PYTHONPATH="$dir" python3 -c "import pyarrow, sys; sys.exit(pyarrow.__version__ != '$PYARROW_VERSION')" 2>/dev/null; then
    return
  fi
  if ! python3 -m pip --version >/dev/null 2>&1; then
    log "installing Debian python3-pip"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-pip >/dev/null
  fi
  log "installing pyarrow $PYARROW_VERSION into end2end/.pylib"
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dir" "pyarrow==$PYARROW_VERSION"
}

# What the test suite needs on top: Chromium + Playwright for the browser tests, strace, python3
# and pyarrow, PostgreSQL.
ensure_test_tools() {
  ensure_build_tools
  ensure_chromium
  ensure_strace
  ensure_python3
  ensure_export_readers
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    log "installing Playwright from npm (the browser is Debian's chromium)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  fi
  ensure_postgres
}
