#!/usr/bin/env bash
# The template's offline checks (`make template-check`): cfn-lint with no warnings, checkov, `sam
# validate --lint`, `sam build` into a throwaway directory, and the artifact check (Lua
# scripts inside, handlers importable from the artifact alone). No AWS credentials needed.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash infra/scripts/sam-tools.sh
echo "==> template check: cfn-lint, checkov, sam validate --lint, sam build, artifact check"
SAM_VENV=${SAM_VENV:-.venv-sam}
# sam build looks for the runtime's interpreter (python3.12) on PATH: the sam venv has it.
export PATH="$PWD/$SAM_VENV/bin:$PATH"
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export SAM_CLI_TELEMETRY=0
t0=$SECONDS
done_step() { echo "    $* ($((SECONDS - t0)) s)"; }

# Any finding, warnings included, fails (cfn-lint exits non-zero on warnings).
# cfn-lint from the sam venv: its version range is pinned by the pinned SAM CLI.
"$SAM_VENV/bin/cfn-lint" template.yaml
done_step "cfn-lint clean"
# checkov: every check passes or is skipped in the template with a reason (infra/scripts/checkov.sh).
bash infra/scripts/checkov.sh
done_step "checkov clean"
sam validate --lint --template-file template.yaml
done_step "sam validate --lint ok"

work=$(mktemp -d "${TMPDIR:-/tmp}/pairchat-sam.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "    sam build: each function's requirements into a throwaway directory..."
sam build --parallel --template-file template.yaml --build-dir "$work/build" --cache-dir "$work/cache" \
  >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
done_step "sam build ok"
"$SAM_VENV/bin/python" -I infra/scripts/check_artifact.py "$work/build" "$PWD"
echo "template-check: cfn-lint clean, checkov clean, sam validate --lint ok, sam build ok, artifact ok"
