#!/usr/bin/env bash
# Provides everything `make` needs on a machine that only has git, Go, make and
# an older Node/npm: Node >= 22, pnpm (as pinned by package.json), the Pulumi
# CLI and our Node language host (built from Go modules), and the workspace's
# node_modules. Idempotent: every artefact is cached by version under
# $DRIFTLESS_CACHE (default: ${XDG_CACHE_HOME:-~/.cache}/driftless), where a
# fresh clone on the same machine finds it again.
#
# Writes .toolchain/env (sourced by scripts/run.sh) with PATH and the engine's
# offline settings, so everything `make` runs sees the same toolchain.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
NODE_VERSION="24.21.0"          # Node 24 LTS, used only when the machine's node is older than 22
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"+]*\).*/\1/p' "$ROOT/package.json")"
PULUMI_VERSION="$(awk '$1=="github.com/pulumi/pulumi/pkg/v3"{print $2; exit}' "$ROOT/tools/engine/go.mod")"
STARTED=$SECONDS

mkdir -p "$CACHE" "$ROOT/.toolchain/bin"

LOG_PREFIX=bootstrap
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

version_ge() { # version_ge A B: A >= B (dotted numeric versions, optional v prefix)
  [ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -n1)" = "${2#v}" ]
}

# --- Node -------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
  NODE_BIN="$(dirname "$(command -v node)")"
  log "node: using $(node --version) from $NODE_BIN"
else
  case "$(uname -m)" in
    x86_64) NODE_PLATFORM=linux-x64 ;;
    aarch64|arm64) NODE_PLATFORM=linux-arm64 ;;
    *) die "no Node build known for $(uname -m); install Node >= 22 and re-run" ;;
  esac
  NODE_HOME="$CACHE/node/$NODE_VERSION"
  if [ ! -x "$NODE_HOME/bin/node" ]; then
    command -v npm >/dev/null || die "need Node >= 22, or npm to download it (apt-get install npm)"
    log "node: machine has $(node --version 2>/dev/null || echo none); fetching Node $NODE_VERSION from the npm registry"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-$NODE_PLATFORM@$NODE_VERSION" >/dev/null) \
      || die "could not download node-$NODE_PLATFORM@$NODE_VERSION from the npm registry"
    mkdir -p "$NODE_HOME.partial"
    tar -xzf "$tmp"/node-*.tgz -C "$NODE_HOME.partial" --strip-components=1
    rm -rf "$tmp" "$NODE_HOME" && mv "$NODE_HOME.partial" "$NODE_HOME"
  fi
  NODE_BIN="$NODE_HOME/bin"
  log "node: using $("$NODE_BIN/node" --version) from $NODE_BIN (cached)"
fi
export PATH="$NODE_BIN:$PATH"
NODE_PREFIX="$(cd "$NODE_BIN/.." && pwd)"

# --- pnpm -------------------------------------------------------------------
[ -n "$PNPM_VERSION" ] || die "package.json has no \"packageManager\": \"pnpm@<version>\""
PNPM_HOME_DIR="$CACHE/pnpm/$PNPM_VERSION"
if [ ! -x "$PNPM_HOME_DIR/bin/pnpm" ]; then
  log "pnpm: installing $PNPM_VERSION"
  npm install --silent --global --prefix "$PNPM_HOME_DIR" "pnpm@$PNPM_VERSION" >/dev/null \
    || die "could not install pnpm@$PNPM_VERSION from the npm registry"
fi
export PATH="$PNPM_HOME_DIR/bin:$PATH"
log "pnpm: $(pnpm --version) from $PNPM_HOME_DIR/bin"

# --- Pulumi CLI and language host --------------------------------------------
[ -n "$PULUMI_VERSION" ] || die "tools/engine/go.mod does not pin github.com/pulumi/pulumi/pkg/v3"
PULUMI_BIN=""
if command -v pulumi >/dev/null && command -v pulumi-language-nodejs >/dev/null; then
  found="$(pulumi version 2>/dev/null || true)"
  if [ -n "$found" ] && version_ge "$found" "$PULUMI_VERSION"; then
    PULUMI_BIN="$(dirname "$(command -v pulumi)")"
    log "pulumi: using $found from $PULUMI_BIN (pinned: $PULUMI_VERSION)"
  fi
fi
if [ -z "$PULUMI_BIN" ]; then
  command -v go >/dev/null || die "no pulumi >= $PULUMI_VERSION on PATH, and no Go to build one: install Go >= 1.25 (https://go.dev/doc/install) or the Pulumi CLI"
  # The CLI is keyed by its version; our language host also by its own source.
  host_hash="$(cat "$ROOT"/tools/engine/go.mod "$ROOT"/tools/engine/go.sum "$ROOT"/tools/engine/cmd/*/*.go | sha256sum | cut -c1-12)"
  PULUMI_BIN="$CACHE/pulumi/$PULUMI_VERSION-$host_hash/bin"
  ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION"
  if [ ! -x "$PULUMI_BIN/pulumi" ] || [ ! -x "$PULUMI_BIN/pulumi-language-nodejs" ] \
    || { [ "$(uname -s)" = Linux ] && [ ! -x "$PULUMI_BIN/driftless-reaper" ]; }; then
    mkdir -p "$PULUMI_BIN"
    cli_cache="$CACHE/pulumi/cli-$PULUMI_VERSION"
    if [ ! -x "$cli_cache/pulumi" ]; then
      log "pulumi: building the CLI $PULUMI_VERSION from Go modules (first run only; several minutes on 2 cores)"
      mkdir -p "$cli_cache"
      run_long "building pulumi $PULUMI_VERSION" "$CACHE/pulumi/build-cli.log" \
        env -C "$ROOT/tools/engine" GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" \
          -o "$cli_cache/pulumi.partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
      mv "$cli_cache/pulumi.partial" "$cli_cache/pulumi"
    fi
    log "pulumi: building the Node language host ($host_hash)"
    run_long "building pulumi-language-nodejs" "$CACHE/pulumi/build-langhost.log" \
      env -C "$ROOT/tools/engine" go build -trimpath -ldflags "$ldflags" \
        -o "$PULUMI_BIN/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs
    # The reaper the reconciler starts the CLI under (Linux: prctl), so the
    # CLI's whole process group dies with the reconciler.
    if [ "$(uname -s)" = Linux ]; then
      run_long "building driftless-reaper" "$CACHE/pulumi/build-reaper.log" \
        env -C "$ROOT/tools/engine" go build -trimpath -ldflags "-s -w" \
          -o "$PULUMI_BIN/driftless-reaper" ./cmd/driftless-reaper
    fi
    ln -sfn "$cli_cache/pulumi" "$PULUMI_BIN/pulumi"
  fi
  log "pulumi: $("$PULUMI_BIN/pulumi" version) from $PULUMI_BIN (cached)"
fi
export PATH="$PULUMI_BIN:$PATH"

# --- Chromium for the dashboard's browser tests ------------------------------------
# playwright-core drives the system's Chromium (the npm browser downloads do
# not work offline). Debian's package, installed once when missing.
if [ -x /usr/bin/chromium ]; then
  log "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
elif command -v apt-get >/dev/null; then
  as_root=""
  [ "$(id -u)" -eq 0 ] || as_root="sudo"
  log "chromium: installing Debian's chromium with apt-get (first run only)"
  run_long "apt-get update" "$CACHE/apt-update.log" $as_root apt-get update
  run_long "installing chromium" "$CACHE/apt-chromium.log" \
    env DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y --no-install-recommends chromium
else
  die "the dashboard's browser tests need /usr/bin/chromium; install Chromium (no apt-get here)"
fi

# --- workspace dependencies ---------------------------------------------------
# Native addons (better-sqlite3) compile against the headers of the node we run.
export npm_config_nodedir="$NODE_PREFIX"
stamp="$ROOT/node_modules/.driftless-install"
want="$(cat "$ROOT/pnpm-lock.yaml" "$ROOT/package.json" "$ROOT"/packages/*/package.json "$ROOT"/examples/*/package.json 2>/dev/null | sha256sum | cut -c1-16)-$(node --version)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pnpm install (lockfile or node changed)"
  frozen=--frozen-lockfile
  [ -f "$ROOT/pnpm-lock.yaml" ] || frozen=
  run_long "installing workspace dependencies" "$CACHE/pnpm-install.log" \
    env -C "$ROOT" pnpm install $frozen --prefer-offline --config.confirmModulesPurge=false
  echo "$want" >"$stamp"
else
  log "workspace dependencies up to date"
fi

# The engine runs dynamic providers through `pulumi-resource-pulumi-nodejs`,
# looked up on PATH. @pulumi/pulumi ships one that resolves the SDK from the
# working directory only; ours does the same and falls back to the workspace's
# SDK, so inline programs (whose directory is a temp dir) work too. It execs
# node (no shell left behind) with a preload that exits when the engine is gone:
# Pulumi's Node provider does not watch its engine, so it outlived killed runs.
sdk_dir="$(cd "$ROOT/packages/gitops" && node -p "require('path').dirname(require.resolve('@pulumi/pulumi/package.json'))")" \
  || die "@pulumi/pulumi is not installed in packages/gitops; re-run pnpm install"
cat >"$ROOT/.toolchain/bin/pulumi-resource-pulumi-nodejs" <<EOF
#!/bin/sh
script=\$(node -e "try{process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))}catch{}" 2>/dev/null)
exec node --require "$ROOT/tools/engine/exit-with-engine.cjs" "\${script:-$sdk_dir/cmd/dynamic-provider/index.js}" "\$@"
EOF
chmod +x "$ROOT/.toolchain/bin/pulumi-resource-pulumi-nodejs"

# --- environment for everything make runs -------------------------------------
cat >"$ROOT/.toolchain/env" <<EOF
# Written by scripts/bootstrap.sh; sourced by scripts/run.sh.
export PATH="$ROOT/.toolchain/bin:$ROOT/node_modules/.bin:$PULUMI_BIN:$PNPM_HOME_DIR/bin:$NODE_BIN:\$PATH"
export npm_config_nodedir="$NODE_PREFIX"
export DRIFTLESS_CACHE="$CACHE"
export DRIFTLESS_PULUMI_VERSION="$PULUMI_VERSION"
# Offline-safe engine: no update checks, no plugin downloads, never ~/.pulumi.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="\${PULUMI_HOME_OVERRIDE:-$CACHE/pulumi-home}"
EOF
log "done in $((SECONDS - STARTED))s (cache: $CACHE)"
