# Shared by the bootstrap scripts: progress lines with elapsed time, errors that
# say what to do, and long builds with a heartbeat. Source it after setting
# LOG_PREFIX (e.g. "bootstrap") and STARTED=$SECONDS.

log() { printf '[%s %3ss] %s\n' "$LOG_PREFIX" "$((SECONDS - STARTED))" "$*"; }
die() { printf '[%s] error: %s\n' "$LOG_PREFIX" "$*" >&2; exit 1; }

# Runs a long command with its output in a log file and a heartbeat line every
# 20 seconds, so a first run shows it is alive; on failure, shows the log tail.
run_long() {
  local what="$1" logfile="$2"; shift 2
  local begun=$SECONDS
  "$@" >"$logfile" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if (( (SECONDS - begun) % 20 < 2 && SECONDS - begun >= 20 )); then
      log "  still $what ($((SECONDS - begun))s, log: $logfile)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$logfile" >&2
    die "$what failed; full log: $logfile"
  fi
  log "  $what took $((SECONDS - begun))s"
}
