#!/usr/bin/env bash
# Builds Gitea, the Git host the pull-request and notification end-to-end tests
# run against, from Go modules only: tools/gitea is a wrapper module that pins
# `code.gitea.io/gitea` (whose zip names itself `gitea.dev`) and mirrors Gitea's
# own version-pin replaces. Built without the `bindata` tag: the API and Git
# work, and the web UI reads its templates from the module directory, whose
# path is written next to the binary (`gitea.root`) for test/support/gitea.ts.
#
# The binary is cached by version and by the hash of the wrapper's go.mod and
# go.sum under $DRIFTLESS_CACHE/gitea and linked into .toolchain/gitea/bin.
#
# Needs Go >= 1.26.4. Usage: scripts/bootstrap-gitea.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
TOOLS="$ROOT/tools/gitea"
BIN="$ROOT/.toolchain/gitea/bin"
STARTED=$SECONDS

LOG_PREFIX=bootstrap-gitea
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

command -v go >/dev/null || die "Go >= 1.26.4 is needed to build Gitea (https://go.dev/doc/install)"

VERSION="$(awk '$1 == "replace" && $2 == "gitea.dev" { print $5; exit }' "$TOOLS/go.mod")"
[ -n "$VERSION" ] || die "could not read the Gitea version from the gitea.dev replace in tools/gitea/go.mod"

hash="$(cat "$TOOLS/go.mod" "$TOOLS/go.sum" | sha256sum | cut -c1-12)"
out="$CACHE/gitea/$VERSION-$hash"
if [ ! -x "$out/gitea" ]; then
  log "gitea: building $VERSION from Go modules (first run only; about 3 minutes on 2 cores)"
  mkdir -p "$out"
  # Pure-Go SQLite: no cgo. nice: the machine is shared with test runs.
  run_long "building gitea $VERSION" "$CACHE/gitea/build.log" \
    nice -n 10 env -C "$TOOLS" CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.Version=${VERSION#v}" -o "$out/gitea.partial" gitea.dev
  mv "$out/gitea.partial" "$out/gitea"
fi
# Templates, options and locales are read from here at run time (no bindata).
env -C "$TOOLS" go list -m -f '{{.Dir}}' gitea.dev >"$out/gitea.root"
[ -d "$(cat "$out/gitea.root")/templates" ] || die "Gitea's module directory has no templates: $(cat "$out/gitea.root")"
mkdir -p "$BIN"
ln -sfn "$out/gitea" "$BIN/gitea"
cp "$out/gitea.root" "$BIN/gitea.root"
log "gitea: $VERSION ($out) in $((SECONDS - STARTED))s"
