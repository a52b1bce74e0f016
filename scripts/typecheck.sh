#!/usr/bin/env bash
# Type-checks every TypeScript project of the workspace (`pnpm run typecheck`):
# the packages' build first, since the others read its declarations, then the
# rest in two lanes of about the same length, one per core of a 2-core
# machine (each tsc uses one), which takes about half as long as one after
# the other. Runs every check, prints what each found, fails if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tsc -b packages/core packages/gitops || exit 1

# Runs its commands one after the other, every one even after a failure.
lane() {
  local status=0
  for command in "$@"; do
    eval "$command" || { echo "typecheck: $command failed" >&2; status=1; }
  done
  return "$status"
}

lane "tsc -p packages/gitops/tsconfig.test.json" "tsc -p test --noEmit" &
first=$!
lane "tsc -p packages/core/tsconfig.test.json" "tsc -p bench" \
  "pnpm -r --filter './examples/*' run typecheck" &
second=$!
status=0
wait "$first" || status=1
wait "$second" || status=1
exit "$status"
