#!/usr/bin/env bash
# checkov (a maintained infrastructure-as-code scanner) on template.yaml, from a virtual
# environment of its own (.venv-checkov): its pins (boto3, networkx, ...) must not fight the
# app's .venv. Offline: --skip-download never calls the vendor's API. Any failed check fails;
# a check that does not apply is skipped in template.yaml itself with an inline
# `# checkov:skip=ID: reason` comment, so every exception is visible where it applies.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${CHECKOV_VENV:-.venv-checkov}
# Pinned: a new checkov release brings new checks, which must not change CI unannounced.
REQUIREMENT=${CHECKOV_REQUIREMENT:-checkov==3.3.30}
STAMP="$VENV/.installed"

if ! { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$REQUIREMENT" ] && [ -x "$VENV/bin/checkov" ]; }; then
  # uv when infra/scripts/venv.sh found or fetched it (seconds), else pip (minutes).
  UV=$(command -v uv || true)
  UV_CACHED="${XDG_CACHE_HOME:-$HOME/.cache}/pairchat/uv-${PAIRCHAT_UV_VERSION:-0.13.8}/bin/uv"
  [ -z "$UV" ] && [ -x "$UV_CACHED" ] && UV=$UV_CACHED
  [ "${PAIRCHAT_INSTALLER:-uv}" = uv ] || UV=
  echo "==> installing $REQUIREMENT into $VENV with $([ -n "$UV" ] && echo uv || echo pip) (first run only)"
  start=$SECONDS
  rm -rf "$VENV"
  if [ -n "$UV" ]; then
    "$UV" venv -q --seed --python "$(command -v "${PYTHON:-python3}")" "$VENV"
    "$UV" pip install -q --python "$VENV/bin/python" "$REQUIREMENT"
  else
    "${PYTHON:-python3}" -m venv "$VENV"
    pip_quiet() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
    pip_quiet --upgrade pip
    pip_quiet "$REQUIREMENT"
  fi
  echo "$REQUIREMENT" >"$STAMP"
  echo "    installed in $((SECONDS - start)) s"
fi

# No telemetry, no guideline download, no update check: the scan runs offline.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
"$VENV/bin/checkov" --file template.yaml --framework cloudformation --skip-download \
  --compact --quiet "$@"
