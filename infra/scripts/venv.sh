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

# The installer: uv when it can be had (on PATH, or bootstrapped once with pip into the user's
# cache, where every clone finds it), because it creates the venv and installs these ~50
# packages in seconds where venv+pip take a minute or more on a small machine; pip otherwise,
# or with PAIRCHAT_INSTALLER=pip.
UV_VERSION=${PAIRCHAT_UV_VERSION:-0.13.8}
UV_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/pairchat/uv-$UV_VERSION"
quiet_pip() {
  # A pip configuration whose find-links folders do not exist makes pip warn once per
  # package; only that line is dropped, every other message stays.
  "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
find_uv() {
  [ "${PAIRCHAT_INSTALLER:-uv}" = uv ] || return 1
  if command -v uv >/dev/null; then command -v uv; return; fi
  if [ ! -x "$UV_HOME/bin/uv" ]; then
    "$PYTHON" -m pip --version >/dev/null 2>&1 || return 1
    echo "==> fetching uv $UV_VERSION (the fast installer) into $UV_HOME, once for every clone" >&2
    quiet_pip "$PYTHON" -m pip install -q --disable-pip-version-check --target "$UV_HOME" \
      "uv==$UV_VERSION" || { echo "    could not fetch uv: using pip instead" >&2; return 1; }
  fi
  echo "$UV_HOME/bin/uv"
}

if [ ! -x "$VENV/bin/python" ]; then
  if ! command -v "$PYTHON" >/dev/null; then
    echo "pairchat needs Python >= 3.11: '$PYTHON' is not on PATH (make ... PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "pairchat needs Python >= 3.11; $PYTHON is $("$PYTHON" -V 2>&1) (make ... PYTHON=python3.12)" >&2
    exit 1
  fi
fi
start=$SECONDS
UV=$(find_uv) || UV=
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV with $("$PYTHON" -V 2>&1)"
  if [ -n "$UV" ]; then
    "$UV" venv -q --seed --python "$(command -v "$PYTHON")" "$VENV"
  else
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
      echo "$PYTHON cannot create virtual environments (Debian: apt-get install python3-venv)" >&2
      exit 1
    fi
    "$PYTHON" -m venv "$VENV"
  fi
fi

if [ -n "$UV" ]; then
  echo "==> installing pairchat[$EXTRAS] into $VENV with uv"
  "$UV" pip install -q --python "$VENV/bin/python" -e ".[$EXTRAS]"
else
  echo "==> installing pairchat[$EXTRAS] into $VENV with pip (a minute or more; quiet unless it fails)"
  quiet_pip "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]"
fi
echo "    done in $((SECONDS - start)) s"
touch "$@"
