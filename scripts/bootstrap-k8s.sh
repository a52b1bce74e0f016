#!/usr/bin/env bash
# Builds a Kubernetes control plane without nodes for the end-to-end tests and
# the kubernetes-app example, from Go modules only: etcd
# (go.etcd.io/etcd/server/v3), kube-apiserver (k8s.io/kubernetes with its
# staging modules at their published versions) and the Pulumi Kubernetes
# provider plugin (`pulumi-resource-kubernetes`), each through a small main
# package of ours under tools/k8s/ that pins the module in its go.mod.
#
# Binaries are cached by version (and by the hash of our wrapper's go.mod,
# go.sum and source) under $DRIFTLESS_CACHE/k8s, and linked into
# .toolchain/k8s/bin, which test/support/cluster.ts uses and which goes first
# on the engine's PATH so it finds the provider plugin offline.
#
# Needs Go >= 1.25 (1.26 for etcd 3.6.16). Usage: scripts/bootstrap-k8s.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DRIFTLESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/driftless}"
TOOLS="$ROOT/tools/k8s"
BIN="$ROOT/.toolchain/k8s/bin"
STARTED=$SECONDS

LOG_PREFIX=bootstrap-k8s
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

# The version a wrapper module pins for a module path.
pinned() { awk -v m="$2" '{ sub(/^require[ \t]+/, "") } $1 == m { print $2; exit }' "$TOOLS/$1/go.mod"; }

command -v go >/dev/null || die "Go >= 1.25 is needed to build etcd and kube-apiserver (https://go.dev/doc/install)"

ETCD_VERSION="$(pinned etcd go.etcd.io/etcd/server/v3)"
K8S_VERSION="$(pinned kube-apiserver k8s.io/kubernetes)"
# The plugin answers to the @pulumi/kubernetes version the components are built against.
PROVIDER_VERSION="$(sed -n 's/.*"@pulumi\/kubernetes": *"\([0-9][^"]*\)".*/\1/p' "$ROOT/packages/core/package.json" | head -n1)"
[ -n "$ETCD_VERSION" ] && [ -n "$K8S_VERSION" ] && [ -n "$PROVIDER_VERSION" ] \
  || die "could not read the pinned versions from tools/k8s/*/go.mod and packages/core/package.json"
k8s_minor="${K8S_VERSION#v}"; k8s_minor="${k8s_minor#*.}"; k8s_minor="${k8s_minor%%.*}"

# build NAME VERSION LDFLAGS: tools/k8s/NAME -> $CACHE/k8s/NAME/VERSION-HASH/BINARY
build() {
  local dir="$1" binary="$2" version="$3" ldflags="$4"
  local hash
  hash="$(cat "$TOOLS/$dir/go.mod" "$TOOLS/$dir/go.sum" "$TOOLS/$dir"/*.go | sha256sum | cut -c1-12)"
  local out="$CACHE/k8s/$dir/$version-$hash"
  if [ ! -x "$out/$binary" ]; then
    log "$binary: building $version from Go modules (first run only; minutes on 2 cores)"
    mkdir -p "$out"
    # nice: the machine is shared with test runs; -trimpath and -s -w keep it reproducible and small.
    run_long "building $binary $version" "$CACHE/k8s/build-$dir.log" \
      nice -n 10 env -C "$TOOLS/$dir" go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$binary.partial" .
    mv "$out/$binary.partial" "$out/$binary"
  fi
  ln -sfn "$out/$binary" "$BIN/$binary"
  log "$binary: $version ($out)"
}

mkdir -p "$CACHE/k8s" "$BIN"
build etcd etcd "$ETCD_VERSION" ""
build kube-apiserver kube-apiserver "$K8S_VERSION" \
  "-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean"
build kubernetes-provider pulumi-resource-kubernetes "v$PROVIDER_VERSION" "-X main.version=$PROVIDER_VERSION"
log "done in $((SECONDS - STARTED))s: $BIN (put it first on PATH to use the provider plugin)"
