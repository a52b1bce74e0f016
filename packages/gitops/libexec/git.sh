# Runs git so that the kernel kills it if the process that started it dies,
# even by SIGKILL (a parent-death signal set by util-linux's setpriv, which then
# execs git: no shell stays behind). Plain git where setpriv is missing.
# Started as `sh git.sh <git arguments>` by @driftless/gitops's GitSource.
if command -v setpriv >/dev/null 2>&1; then
  exec setpriv --pdeathsig KILL -- git "$@"
fi
exec git "$@"
