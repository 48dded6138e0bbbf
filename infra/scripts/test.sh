#!/usr/bin/env bash
# `make test` after the installs: every check CI runs, overlapped where that costs nothing.
# CI's machine has 2 cores and the pytest tiers spend most of their time waiting (on servers,
# browsers, timers), so while the foreground runs
#   ruff, mypy, then pytest on Redis (every tier), its output live,
# two jobs run in the background, each into a log file printed whole at the end (nothing
# interleaves):
#   the template check (cfn-lint, checkov, sam validate --lint, sam build, the artifact), at
#   a lower CPU priority (nice): it waits for nothing, the tests have timeouts and timings;
#   once mypy is done (started with it, it took mypy from 6 to 27 s on a loaded machine),
#   pytest on Valkey (the integration tier: Lua, domain, handlers, ops API, the cluster).
# Every step still runs; any failure, foreground or background, fails `make test`, and a
# failure of pytest on Redis still waits for the background, so one run reports them all. A
# lint or typecheck failure or Ctrl-C stops the background jobs (their process groups: sam's
# pip, pytest's workers and the servers they started) and says so.
#   usage: test.sh   (from the Makefile, which has installed .venv and the system packages)
set -uo pipefail
cd "$(dirname "$0")/../.."

MAKE=${MAKE:-make}
# The suite starts dozens of Python processes (xdist workers, `pairchat dev` stacks and their
# handler workers, the CLI, sam, checkov) that import the same modules: let the first one
# write the bytecode (into the gitignored __pycache__ folders and the venvs) and the others
# read it, even where PYTHONDONTWRITEBYTECODE is set (CI's shell sets it); each process
# otherwise compiles everything it imports again.
unset PYTHONDONTWRITEBYTECODE
start=$SECONDS
logs=$(mktemp -d "${TMPDIR:-/tmp}/pairchat-make-test.XXXXXX")
export LOGS=$logs
jobs_=()  # pid of each background job; each is a session of its own, so also its group id

stop_background() {
  local pid stopped=
  for pid in "${jobs_[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null && stopped=1
  done
  for pid in "${jobs_[@]}"; do wait "$pid" 2>/dev/null; done
  jobs_=()
  [ -z "$stopped" ] || echo "==> stopped the background checks (pytest on Valkey, the template check)" >&2
}
cleanup() {
  stop_background
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A new session, so that the job's process group can be stopped as a whole: setsid where
# there is one (util-linux), else Python's os.setsid (macOS has no setsid command).
if command -v setsid >/dev/null; then
  new_session() { setsid "$@"; }
else
  new_session() { .venv/bin/python -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
fi
# background NAME COMMAND...: COMMAND in a session of its own, its output into $LOGS/NAME.log,
# "exit-status seconds" into $LOGS/NAME.status.
background() {
  local name=$1
  shift
  new_session bash -c 't0=$SECONDS; "$@" >"$LOGS/$0.log" 2>&1; echo "$? $((SECONDS - t0))" >"$LOGS/$0.status"' \
    "$name" "$@" </dev/null &
  jobs_+=($!)
}
echo "==> in the background: the template check (niced), and after mypy pytest on Valkey; logs at the end"
background template nice -n 10 "$MAKE" --no-print-directory template-check

# lint and typecheck take seconds: a failure there stops everything at once, as make would.
quick() {
  local t0=$SECONDS
  "$MAKE" --no-print-directory "$1" || {
    echo "make test: $1 failed after $((SECONDS - t0)) s" >&2
    exit 1
  }
  echo "    $1 done in $((SECONDS - t0)) s"
}
quick lint
quick typecheck
background valkey "$MAKE" --no-print-directory pytest-valkey

failed=()
t0=$SECONDS
if "$MAKE" --no-print-directory pytest-redis; then
  echo "    pytest on Redis done in $((SECONDS - t0)) s"
else
  failed+=("pytest on Redis")
  echo "    pytest on Redis FAILED after $((SECONDS - t0)) s" >&2
fi

t0=$SECONDS
for pid in "${jobs_[@]}"; do wait "$pid"; done
jobs_=()
[ $((SECONDS - t0)) -gt 0 ] && echo "    waited $((SECONDS - t0)) s more for the background checks"
for name in valkey template; do
  read -r rc secs <"$logs/$name.status" 2>/dev/null || { rc=1 secs=?; }
  title=$([ "$name" = template ] && echo "the template check" || echo "pytest on Valkey")
  echo "==> background log: $title (exit $rc after $secs s)"
  cat "$logs/$name.log"
  [ "$rc" = 0 ] || failed+=("$title")
done
if [ ${#failed[@]} -gt 0 ]; then
  list=$(printf '%s, ' "${failed[@]}")
  echo "make test: FAILED after $((SECONDS - start)) s: ${list%, } (output above)" >&2
  exit 1
fi
echo "make test: every check passed in $((SECONDS - start)) s"
