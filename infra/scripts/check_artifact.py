"""Checks a `sam build` output the way Lambda will see it.

Run by the functions' runtime interpreter (.venv-sam's python3.12) with ``-I``: for every
function of the built template it asserts that ``pairchat/lua`` is a real directory holding
byte-identical copies of the repo's ``lua/*.lua`` (``sam build`` must have followed the
package's symlink), then imports the package from the artifact alone (``-S``: no
site-packages, only the artifact and the standard library, like ``/var/task``) and checks
that ``lua_dir()`` resolves inside the artifact, every script's includes splice, and the
handler is a callable.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import yaml

PROBE = r"""
import glob, importlib, json, os, re, sys
root, handler, layers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
# Lambda's order: /var/task, then each layer's python/lib/pythonX.Y/site-packages and python/.
tag = f"python{sys.version_info.major}.{sys.version_info.minor}"
roots = [root]
for layer in layers:
    python = os.path.join(layer, "python")
    roots += [os.path.join(python, "lib", tag, "site-packages"), python]
sys.path[:0] = roots
from pairchat import scripts
out = {"lua_dir": str(scripts.lua_dir()), "unspliced": []}
for name in scripts.SCRIPT_NAMES:
    if re.search(r"^-- @include \w+\s*$", scripts.source(name), re.MULTILINE):
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


def check_function(
    name: str, code_dir: Path, handler: str, layers: list[Path], lua_src: Path
) -> None:
    lua = code_dir / "pairchat" / "lua"
    if lua.is_symlink() or not lua.is_dir():
        fail(f"{name}: {lua} is not a real directory (symlink not followed?)")
    want = {p.name: p.read_bytes() for p in sorted(lua_src.glob("*.lua"))}
    got = {p.name: p for p in sorted(lua.glob("*.lua"))}
    if set(want) != set(got):
        missing, extra = set(want) - set(got), set(got) - set(want)
        fail(f"{name}: lua files differ: missing {missing}, extra {extra}")
    for file_name, data in want.items():
        path = got[file_name]
        if path.is_symlink() or path.read_bytes() != data:
            fail(f"{name}: {path} is a symlink or differs from lua/{file_name}")
    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            PROBE,
            str(code_dir.resolve()),
            handler,
            json.dumps([str(p.resolve()) for p in layers]),
        ],
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        fail(f"{name}: importing pairchat from the artifact failed:\n{probe.stderr}")
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    if not Path(out["lua_dir"]).resolve().is_relative_to(code_dir.resolve()):
        fail(f"{name}: lua_dir() resolved outside the artifact: {out['lua_dir']}")
    if out["unspliced"]:
        fail(f"{name}: includes not spliced in {out['unspliced']}")
    error = out.get("import_error")
    if error is not None:
        # An arm64 extension module cannot load on another machine; anything else is real.
        foreign = platform.machine() not in ("aarch64", "arm64") and out.get("foreign")
        if not foreign:
            fail(f"{name}: handler {handler} does not import from the artifact: {error}")
        status = f"{handler} imports up to an arm64 extension ({error})"
    elif not out.get("callable"):
        fail(f"{name}: handler {handler} is not callable")
    else:
        status = f"{handler} importable"
    print(f"{name}: {len(want)} Lua scripts, lua_dir in artifact, {status}")


def main() -> None:
    build_dir, repo = Path(sys.argv[1]), Path(sys.argv[2])
    template = yaml.safe_load((build_dir / "template.yaml").read_text())
    global_handler = template.get("Globals", {}).get("Function", {}).get("Handler")
    functions = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
        and str(res["Properties"].get("Handler", global_handler) or "").startswith("pairchat.")
    }
    if not functions:
        fail("no pairchat functions in the built template")
    for name, props in sorted(functions.items()):
        handler = props.get("Handler", global_handler)
        layers = [
            build_dir / template["Resources"][layer["Ref"]]["Properties"]["ContentUri"]
            for layer in props.get("Layers", [])
            if isinstance(layer, dict) and layer.get("Ref") in template["Resources"]
        ]
        check_function(name, build_dir / props["CodeUri"], handler, layers, repo / "lua")


if __name__ == "__main__":
    main()
