#!/usr/bin/env bash
# Creates .venv when missing and installs pairchat with the extras asked for, saying what it
# does: `make dev` installs only what the local stack runs (.[local,ops,auth]), `make test` the
# whole toolchain (.[dev]: pytest, mypy, ruff, Playwright, moto, matplotlib...).
# Fails early, with the reason, when the Python it is given cannot do it.
#   usage: venv.sh EXTRAS STAMP...     (PYTHON=python3.12 to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."

EXTRAS=$1
shift
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  if ! command -v "$PYTHON" >/dev/null; then
    echo "pairchat needs Python >= 3.11: '$PYTHON' is not on PATH (make ... PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "pairchat needs Python >= 3.11; $PYTHON is $("$PYTHON" -V 2>&1) (make ... PYTHON=python3.12)" >&2
    exit 1
  fi
  if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    echo "$PYTHON cannot create virtual environments (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
  echo "==> creating $VENV with $("$PYTHON" -V 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

echo "==> installing pairchat[$EXTRAS] into $VENV (pip; quiet unless something fails)"
start=$SECONDS
# A pip configuration whose find-links folders do not exist makes pip warn once per package;
# only that line is dropped, every other message stays.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "    pairchat[$EXTRAS] installed in $((SECONDS - start)) s"
touch "$@"
