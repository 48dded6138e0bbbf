"""Checks a `sam build` output the way Lambda will see it.

Run by the functions' runtime interpreter (.venv-sam's python3.12) with ``-I``: for every
function of the built template it asserts that ``pairchat/lua`` is a real directory holding
byte-identical copies of the repo's ``lua/**/*.lua`` (the scripts and their ``includes/``;
``sam build`` must have followed the package's symlink), then imports the package from the
artifact alone (``-S``: no site-packages, only the artifact and the standard library, like
``/var/task``) and checks that ``lua_dir()`` resolves inside the artifact, every script's
includes splice, and the handler is a callable. Layers go on the path in Lambda's order.
Where the import stops at an arm64-only extension (this machine is x86_64), the same versions
of exactly those distributions are installed for this machine in front of the path and the
import is retried, so a missing pure-Python dependency still fails the check.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

PROBE = r"""
import glob, importlib, json, os, re, sys
root, handler, layers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
shadow = sys.argv[4] if len(sys.argv) > 4 else ""
# Lambda's order: /var/task, then each layer's python/lib/pythonX.Y/site-packages and python/.
tag = f"python{sys.version_info.major}.{sys.version_info.minor}"
roots = [root]
for layer in layers:
    python = os.path.join(layer, "python")
    roots += [os.path.join(python, "lib", tag, "site-packages"), python]
sys.path[:0] = ([shadow] if shadow else []) + roots
from pairchat.domain import scripts
out = {"lua_dir": str(scripts.lua_dir()), "unspliced": [], "roots": roots}
for name in scripts.SCRIPT_NAMES:
    if re.search(r"^-- @include [\w/]+\s*$", scripts.source(name), re.MULTILINE):
        out["unspliced"].append(name)
module, _, attr = handler.rpartition(".")
try:
    out["callable"] = callable(getattr(importlib.import_module(module), attr))
except ImportError as exc:
    out["import_error"] = str(exc)
    # A compiled module built for arm64 cannot load on another machine: name it if so.
    missing = (exc.name or "").replace(".", os.sep)
    out["foreign"] = bool(missing) and any(
        glob.glob(os.path.join(r, missing + ".*aarch64*.so")) for r in roots
    )
print(json.dumps(out))
"""


def fail(message: str) -> None:
    print(f"artifact check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def probe(code_dir: Path, handler: str, layers: list[Path], shadow: str = "") -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(code_dir.resolve()), handler,
         json.dumps([str(p.resolve()) for p in layers]), shadow],
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if run.returncode != 0:
        fail(f"{code_dir.name}: importing pairchat from the artifact failed:\n{run.stderr}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def native_distributions(roots: list[str]) -> list[str]:
    """``name==version`` of every installed distribution that ships an arm64 extension."""
    found = []
    for root in roots:
        for info in sorted(Path(root).glob("*.dist-info")):
            record, metadata = info / "RECORD", info / "METADATA"
            if not (record.is_file() and metadata.is_file()):
                continue
            if not re.search(r"aarch64[^,\n]*\.so", record.read_text()):
                continue
            meta = dict(
                line.split(": ", 1)
                for line in metadata.read_text().splitlines()
                if line.startswith(("Name: ", "Version: "))
            )
            found.append(f"{meta['Name']}=={meta['Version']}")
    return found


def host_wheels(requirements: list[str], target: Path) -> None:
    """The same versions built for this machine (the interpreter is the runtime's)."""
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "--target", str(target), *requirements],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if run.returncode != 0:
        fail(f"could not install host wheels of {requirements}:\n{run.stderr}")


#: Code that must never ship to Lambda: the local stack (an unauthenticated Management API
#: emulator among it), the load generator and the CLI live in ``tools/pairchat_tools``.
LOCAL_ONLY = ("pairchat_tools", "local", "bots", "cli")


def forbidden_code(code_dir: Path, handler: str) -> list[str]:
    """Paths in an artifact that do not belong there: local/bots/CLI code anywhere, and the
    ops API in a chat function (only the ops function carries ``pairchat_ops``)."""
    found = []
    for path in sorted(code_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(code_dir)
        top = rel.parts[0]
        if top.endswith((".dist-info", ".egg-info")) or top not in (
            "pairchat",
            "pairchat_ops",
            "pairchat_tools",
        ):
            continue  # third-party dependencies
        stems = {Path(part).stem for part in rel.parts}
        local_only = top == "pairchat_tools" or bool(stems & set(LOCAL_ONLY[1:]))
        ops_in_chat = top == "pairchat_ops" and not handler.startswith("pairchat_ops.")
        if local_only or ops_in_chat:
            found.append(str(rel))
    return found


def lua_differences(lua_src: Path, lua: Path) -> str:
    """What differs between the repo's ``lua/`` tree (scripts and ``includes/``) and the
    artifact's copy: '' when every file is there, byte for byte, and none is a symlink."""
    want = {str(p.relative_to(lua_src)): p.read_bytes() for p in sorted(lua_src.rglob("*.lua"))}
    got = {str(p.relative_to(lua)): p for p in sorted(lua.rglob("*.lua"))}
    if set(want) != set(got):
        missing, extra = set(want) - set(got), set(got) - set(want)
        return f"lua files differ: missing {sorted(missing)}, extra {sorted(extra)}"
    for file_name, data in want.items():
        path = got[file_name]
        if path.is_symlink() or path.read_bytes() != data:
            return f"{path} is a symlink or differs from lua/{file_name}"
    return ""


def check_function(
    name: str, code_dir: Path, handler: str, layers: list[Path], lua_src: Path, scratch: Path
) -> None:
    stray = forbidden_code(code_dir, handler)
    if stray:
        fail(f"{name}: the artifact holds code that must not ship there: {stray[:5]}")
    lua = code_dir / "pairchat" / "lua"
    if lua.is_symlink() or not lua.is_dir():
        fail(f"{name}: {lua} is not a real directory (symlink not followed?)")
    differences = lua_differences(lua_src, lua)
    if differences:
        fail(f"{name}: {differences}")
    out = probe(code_dir, handler, layers)
    if not Path(out["lua_dir"]).resolve().is_relative_to(code_dir.resolve()):
        fail(f"{name}: lua_dir() resolved outside the artifact: {out['lua_dir']}")
    if out["unspliced"]:
        fail(f"{name}: includes not spliced in {out['unspliced']}")
    status = f"{handler} importable"
    if "import_error" in out and out.get("foreign") and platform.machine() != "aarch64":
        # An arm64 extension cannot load here: put this machine's build of the same versions
        # of exactly those distributions first on the path, and import again.
        native = native_distributions(out["roots"])
        shadow = scratch / name
        host_wheels(native, shadow)
        out = probe(code_dir, handler, layers, str(shadow))
        status = f"{handler} importable (with host builds of {', '.join(native)})"
    if "import_error" in out:
        fail(f"{name}: handler {handler} does not import from the artifact: {out['import_error']}")
    if not out.get("callable"):
        fail(f"{name}: handler {handler} is not callable")
    files = len(list(lua.rglob("*.lua")))
    print(f"{name}: {files} Lua files, lua_dir in artifact, {status}")


def main() -> None:
    build_dir, repo = Path(sys.argv[1]), Path(sys.argv[2])
    template = yaml.safe_load((build_dir / "template.yaml").read_text())
    global_handler = template.get("Globals", {}).get("Function", {}).get("Handler")
    functions = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
        and str(res["Properties"].get("Handler", global_handler) or "").startswith("pairchat")
    }
    if not functions:
        fail("no pairchat functions in the built template")
    with tempfile.TemporaryDirectory(prefix="pairchat-artifact-") as scratch:
        check_all(build_dir, repo, template, functions, global_handler, Path(scratch))


def check_all(
    build_dir: Path,
    repo: Path,
    template: dict[str, Any],
    functions: dict[str, dict[str, Any]],
    global_handler: str | None,
    scratch: Path,
) -> None:
    for name, props in sorted(functions.items()):
        handler = props.get("Handler", global_handler)
        layers = [
            build_dir / template["Resources"][layer["Ref"]]["Properties"]["ContentUri"]
            for layer in props.get("Layers", [])
            if isinstance(layer, dict) and layer.get("Ref") in template["Resources"]
        ]
        check_function(name, build_dir / props["CodeUri"], handler, layers, repo / "lua", scratch)


if __name__ == "__main__":
    main()
