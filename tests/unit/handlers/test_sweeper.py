"""The sweeper runs from the chat functions' artifact: no FastAPI, pydantic or rich."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("fastapi", "pydantic", "starlette", "mangum", "rich"):
            raise ImportError(f"the sweeper must not need {name}")
sys.meta_path.insert(0, Block())
import pairchat.handlers.sweeper as s
assert callable(s.handler)
print("ok")
"""


def test_sweeper_imports_without_the_ops_layer() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert probe.returncode == 0 and probe.stdout.strip() == "ok", probe.stderr
