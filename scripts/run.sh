#!/usr/bin/env bash
# Runs a command with the toolchain that scripts/bootstrap.sh provided.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -f "$ROOT/.toolchain/env" ] || "$ROOT/scripts/bootstrap.sh"
# shellcheck source=/dev/null
. "$ROOT/.toolchain/env"
cd "$ROOT"
exec "$@"
