#!/usr/bin/env bash
# Creates .venv-sam: aws-sam-cli in a virtual environment of its own, because it pins its own
# boto3/botocore and must not fight the app's .venv. The venv's interpreter is Python 3.12 (the
# functions' runtime): `sam build` looks for `python3.12` on PATH, and the Makefile puts
# .venv-sam/bin first on PATH, so no pyenv global change or Docker is needed.
# Idempotent: a stamp file records the installed requirement, so a warm run costs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${SAM_VENV:-.venv-sam}
RUNTIME=${SAM_PYTHON_VERSION:-3.12}
# Pinned: a new SAM CLI (and the cfn-lint range it pins) must not change CI unannounced.
REQUIREMENT=${SAM_CLI_REQUIREMENT:-aws-sam-cli==1.170.0}
STAMP="$VENV/.installed"
WANT="$REQUIREMENT python$RUNTIME"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/sam" ]; then
  exit 0
fi

# An interpreter of the runtime's version: on PATH, or from pyenv (its shims refuse versions
# that are not selected, so ask pyenv for the install prefix instead).
find_python() {
  local name="python$RUNTIME" candidate
  if command -v "$name" >/dev/null && "$name" -c '' 2>/dev/null; then
    command -v "$name"
    return
  fi
  if command -v pyenv >/dev/null; then
    for candidate in $(pyenv versions --bare 2>/dev/null | grep -E "^${RUNTIME//./\\.}(\.[0-9]+)?$" | sort -V -r); do
      if [ -x "$(pyenv root)/versions/$candidate/bin/$name" ]; then
        echo "$(pyenv root)/versions/$candidate/bin/$name"
        return
      fi
    done
  fi
  return 1
}

PY=$(find_python) || {
  echo "the template check needs python$RUNTIME (the functions' Lambda runtime: sam build uses it)," >&2
  echo "found neither on PATH nor in pyenv: 'pyenv install $RUNTIME' or 'apt-get install python$RUNTIME'" >&2
  exit 1
}

# uv when infra/scripts/venv.sh found or fetched it (seconds), else pip (minutes).
UV=$(command -v uv || true)
UV_CACHED="${XDG_CACHE_HOME:-$HOME/.cache}/pairchat/uv-${PAIRCHAT_UV_VERSION:-0.13.8}/bin/uv"
[ -z "$UV" ] && [ -x "$UV_CACHED" ] && UV=$UV_CACHED
[ "${PAIRCHAT_INSTALLER:-uv}" = uv ] || UV=

echo "==> installing $REQUIREMENT into $VENV with $("$PY" -V 2>&1) and $([ -n "$UV" ] && echo uv || echo pip) (first run only)"
start=$SECONDS
rm -rf "$VENV"
if [ -n "$UV" ]; then
  "$UV" venv -q --seed --python "$PY" "$VENV"
  "$UV" pip install -q --python "$VENV/bin/python" "$REQUIREMENT"
else
  "$PY" -m venv "$VENV"
  pip_quiet() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  pip_quiet --upgrade pip
  pip_quiet "$REQUIREMENT"
fi
echo "$WANT" >"$STAMP"
echo "    $("$VENV/bin/sam" --version) installed in $((SECONDS - start)) s"
