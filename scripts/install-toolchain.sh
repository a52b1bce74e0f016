#!/usr/bin/env bash
# Installs the toolchain scripts/bootstrap.sh built — Node, the Pulumi CLI with
# its Node language host, and the `pulumi-resource-pulumi-nodejs` plugin that
# runs dynamic providers — under PREFIX, for a service outside this clone.
# Nothing installed points back into the clone: it may be moved or deleted.
# Usage: scripts/install-toolchain.sh PREFIX   (make install-toolchain PREFIX=…)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${1:-}"
[ -n "$PREFIX" ] || { echo "usage: make install-toolchain PREFIX=/opt/driftless" >&2; exit 64; }
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"
case "$PREFIX/" in
  "$ROOT"/*) echo "install-toolchain: PREFIX must be outside the clone ($ROOT), got $PREFIX" >&2; exit 64 ;;
esac
# shellcheck source=/dev/null
. "$ROOT/.toolchain/env"
node_prefix="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
pulumi_bin="$(cd "$(dirname "$(command -v pulumi)")" && pwd)"

rm -rf "$PREFIX/node" "$PREFIX/pulumi"
mkdir -p "$PREFIX/bin" "$PREFIX/lib" "$PREFIX/pulumi"
cp -a "$node_prefix" "$PREFIX/node"
cp -a "$pulumi_bin" "$PREFIX/pulumi/bin"
cp "$ROOT/tools/engine/exit-with-engine.cjs" "$PREFIX/lib/exit-with-engine.cjs"

# Resolves @pulumi/pulumi from the program's directory (where the engine starts
# it), as Pulumi's own does; the preload stops it when the engine is gone.
cat >"$PREFIX/bin/pulumi-resource-pulumi-nodejs" <<'SCRIPT'
#!/bin/sh
here=$(cd "$(dirname "$0")/.." && pwd)
script=$(node -e "try{process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))}catch{}" 2>/dev/null)
if [ -z "$script" ]; then
  echo "pulumi-resource-pulumi-nodejs: @pulumi/pulumi is not installed for $(pwd); install it in the program's project" >&2
  exit 1
fi
exec node --require "$here/lib/exit-with-engine.cjs" "$script" "$@"
SCRIPT
chmod +x "$PREFIX/bin/pulumi-resource-pulumi-nodejs"

cat >"$PREFIX/env" <<ENV
# Written by make install-toolchain; source it (. $PREFIX/env) before npm, npx or driftless.
export PATH="$PREFIX/bin:$PREFIX/pulumi/bin:$PREFIX/node/bin:\$PATH"
export PULUMI_SKIP_UPDATE_CHECK=true
ENV
echo "installed Node $("$PREFIX/node/bin/node" --version) and Pulumi $("$PREFIX/pulumi/bin/pulumi" version) in $PREFIX; use it with: . $PREFIX/env"
