#!/usr/bin/env bash
# Builds a small Kubernetes cluster without containers for the end-to-end
# tests, the demo and the kubernetes-app example, from Go modules only: etcd
# (go.etcd.io/etcd/server/v3); kube-apiserver, kube-controller-manager and
# kube-scheduler (k8s.io/kubernetes with its staging modules at their
# published versions); kwok (sigs.k8s.io/kwok), which plays the kubelet of
# simulated Nodes, with its Stage configuration; and upstream's Pulumi
# Kubernetes provider plugin (`pulumi-resource-kubernetes`, from
# github.com/pulumi/pulumi-kubernetes/provider/v4). Each is built through a
# small main package of ours under tools/k8s/ that pins the module in its
# go.mod.
#
# Binaries are cached by version (and by the hash of our wrapper's go.mod,
# go.sum and sources) under $DRIFTLESS_CACHE/k8s, and linked into
# .toolchain/k8s/bin, which test/support/cluster.ts uses and which goes first
# on the engine's PATH so it finds the provider plugin offline. The first run
# takes about 20 minutes on 2 cores (the provider alone ~12 minutes and ~5 GB
# of memory); later runs take seconds.
#
# Needs Go >= 1.26 (etcd 3.6.16 and kwok 0.8). Usage: scripts/bootstrap-k8s.sh
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

command -v go >/dev/null || die "Go >= 1.26 is needed to build the cluster and the provider (https://go.dev/doc/install)"

ETCD_VERSION="$(pinned etcd go.etcd.io/etcd/server/v3)"
K8S_VERSION="$(pinned kube-apiserver k8s.io/kubernetes)"
KWOK_VERSION="$(pinned kwok sigs.k8s.io/kwok)"
for component in kube-controller-manager kube-scheduler; do
  [ "$(pinned "$component" k8s.io/kubernetes)" = "$K8S_VERSION" ] \
    || die "tools/k8s/$component/go.mod must pin k8s.io/kubernetes $K8S_VERSION, as kube-apiserver does"
done
# The plugin answers to the @pulumi/kubernetes version the components are built against.
PROVIDER_VERSION="$(sed -n 's/.*"@pulumi\/kubernetes": *"\([0-9][^"]*\)".*/\1/p' "$ROOT/packages/core/package.json" | head -n1)"
[ -n "$ETCD_VERSION" ] && [ -n "$K8S_VERSION" ] && [ -n "$KWOK_VERSION" ] && [ -n "$PROVIDER_VERSION" ] \
  || die "could not read the pinned versions from tools/k8s/*/go.mod and packages/core/package.json"
k8s_minor="${K8S_VERSION#v}"; k8s_minor="${k8s_minor#*.}"; k8s_minor="${k8s_minor%%.*}"

# wrapper_hash NAME: the hash of our wrapper module's go.mod, go.sum and Go sources.
wrapper_hash() {
  (cd "$TOOLS/$1" && find . -name '*.go' -o -name go.mod -o -name go.sum | LC_ALL=C sort | xargs cat) \
    | sha256sum | cut -c1-12
}

# build NAME BINARY VERSION LDFLAGS [PREPARE]: tools/k8s/NAME -> $CACHE/k8s/NAME/VERSION-HASH/BINARY.
# PREPARE, when given, is a function run first in the wrapper's folder with the output folder as $1.
build() {
  local dir="$1" binary="$2" version="$3" ldflags="$4" prepare="${5:-}"
  local out="$CACHE/k8s/$dir/$version-$(wrapper_hash "$dir")"
  if [ ! -x "$out/$binary" ]; then
    log "$binary: building $version from Go modules (first run only; minutes on 2 cores)"
    mkdir -p "$out"
    if [ -n "$prepare" ]; then (cd "$TOOLS/$dir" && "$prepare" "$out"); fi
    # nice: the machine is shared with test runs; -trimpath and -s -w keep it reproducible and small.
    run_long "building $binary $version" "$CACHE/k8s/build-$dir.log" \
      nice -n 10 env -C "$TOOLS/$dir" go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$binary.partial" .
    mv "$out/$binary.partial" "$out/$binary"
  fi
  ln -sfn "$out/$binary" "$BIN/$binary"
  log "$binary: $version ($out)"
}

# The provider embeds its schema and Terraform mapping, generated (never committed)
# from the schema.json and terraform-mapping.json its module ships, stamped with the version.
# embedgen reads them from the module's folder in the module cache; compiling embedgen
# fetches only the packages it imports, so a fresh cache needs the module downloaded first.
provider_embeds() {
  run_long "downloading the provider module's source" "$CACHE/k8s/download-kubernetes-provider.log" \
    go mod download github.com/pulumi/pulumi-kubernetes/provider/v4
  run_long "generating the provider's schema-embed.json" "$CACHE/k8s/generate-kubernetes-provider.log" \
    env VERSION="$PROVIDER_VERSION" nice -n 10 go run -trimpath ./internal/embedgen
}

# kwok has no built-in stages: write those of its module (and our never-ready one) for --config.
kwok_stages() {
  nice -n 10 go run -trimpath ./internal/stages >"$1/kwok-stages.yaml.partial"
  mv "$1/kwok-stages.yaml.partial" "$1/kwok-stages.yaml"
}

mkdir -p "$CACHE/k8s" "$BIN"
K8S_LDFLAGS="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor -X k8s.io/component-base/version.gitTreeState=clean"
build etcd etcd "$ETCD_VERSION" ""
build kube-apiserver kube-apiserver "$K8S_VERSION" "$K8S_LDFLAGS"
build kube-controller-manager kube-controller-manager "$K8S_VERSION" "$K8S_LDFLAGS"
build kube-scheduler kube-scheduler "$K8S_VERSION" "$K8S_LDFLAGS"
build kwok kwok "$KWOK_VERSION" "" kwok_stages
ln -sfn "$(dirname "$(readlink "$BIN/kwok")")/kwok-stages.yaml" "$BIN/kwok-stages.yaml"
build kubernetes-provider pulumi-resource-kubernetes "v$PROVIDER_VERSION" \
  "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PROVIDER_VERSION" provider_embeds
log "done in $((SECONDS - STARTED))s: $BIN (put it first on PATH to use the provider plugin)"
