"""infra/scripts/check_artifact.py refuses artifacts that carry local-only or ops code."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_artifact", ROOT / "infra" / "scripts" / "check_artifact.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def artifact(tmp_path: Path, *files: str) -> Path:
    for name in ("pairchat/__init__.py", "pairchat/handlers/ws.py", "redis/__init__.py", *files):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return tmp_path


def test_a_clean_chat_artifact_passes(tmp_path: Path) -> None:
    assert checker().forbidden_code(artifact(tmp_path), "pairchat.handlers.ws.on_message") == []


def test_local_bots_or_cli_code_in_a_chat_artifact_fails(tmp_path: Path) -> None:
    check = checker()
    for stray in (
        "pairchat_tools/local/gateway.py",
        "pairchat_tools/bots.py",
        "pairchat/local/gateway.py",
        "pairchat/cli.py",
        "pairchat/bots.py",
    ):
        root = artifact(tmp_path / stray.replace("/", "_"), stray)
        assert check.forbidden_code(root, "pairchat.handlers.ws.on_message") == [stray], stray


def test_ops_code_only_in_the_ops_function(tmp_path: Path) -> None:
    check = checker()
    root = artifact(tmp_path, "pairchat_ops/api.py")
    assert check.forbidden_code(root, "pairchat.handlers.ws.on_message") == ["pairchat_ops/api.py"]
    assert check.forbidden_code(root, "pairchat_ops.lambda_handler.handler") == []


def test_the_lua_tree_must_be_copied_whole_includes_too(tmp_path: Path) -> None:
    check = checker()
    repo_lua = ROOT / "lua"
    assert list(repo_lua.glob("includes/*.lua")), "the scripts' helpers live in lua/includes/"
    copy = tmp_path / "lua"
    for path in repo_lua.rglob("*.lua"):
        target = copy / path.relative_to(repo_lua)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert check.lua_differences(repo_lua, copy) == ""
    helper = copy / "includes" / "dissolve.lua"
    helper.write_bytes(helper.read_bytes() + b"\n")
    assert "includes/dissolve.lua" in check.lua_differences(repo_lua, copy)
    helper.unlink()
    assert "missing ['includes/dissolve.lua']" in check.lua_differences(repo_lua, copy)
