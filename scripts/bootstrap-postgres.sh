#!/usr/bin/env bash
# Provides the PostgreSQL server binaries the tests start throwaway clusters
# with (initdb, pg_ctl): Debian's `postgresql` package, installed with apt-get
# when missing. Idempotent and instant when the binaries are there. The tests
# find them through DRIFTLESS_PG_BIN or the newest /usr/lib/postgresql/*/bin.
set -euo pipefail

STARTED=$SECONDS
LOG_PREFIX=bootstrap-postgres
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

pg_bin() {
  if [ -n "${DRIFTLESS_PG_BIN:-}" ]; then echo "$DRIFTLESS_PG_BIN"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1
}

bin="$(pg_bin)"
if [ -n "$bin" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
  log "postgresql: using $("$bin/postgres" --version) from $bin"
  exit 0
fi
command -v apt-get >/dev/null || die "no PostgreSQL server binaries (initdb, pg_ctl) and no apt-get: install PostgreSQL >= 13 and set DRIFTLESS_PG_BIN to its bin directory"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
log "postgresql: installing the Debian package (apt-get update first)"
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
  || die "apt-get install postgresql failed"
bin="$(pg_bin)"
[ -n "$bin" ] && [ -x "$bin/initdb" ] || die "postgresql installed, but no initdb under /usr/lib/postgresql/*/bin"
log "postgresql: installed $("$bin/postgres" --version) at $bin"
