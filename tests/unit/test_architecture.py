"""The rooms of the tree and what each may import (docs/architecture.md), checked statically.

A rule broken here is a design change: update docs/architecture.md with the reason, then this.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "pairchat": ROOT / "functions" / "chat" / "pairchat",
    "pairchat_ops": ROOT / "functions" / "ops" / "pairchat_ops",
    "pairchat_tools": ROOT / "tools" / "pairchat_tools",
}
#: Third-party roots that mean Lambda, HTTP or AWS: the domain imports none of them.
OUTSIDE_WORLD = {
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "fastapi",
    "starlette",
    "mangum",
    "jwt",
    "urllib",
    "http",
    "httpx",
    "websockets",
    "uvicorn",
}


def modules() -> Iterator[tuple[str, Path]]:
    for top, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([top, *parts]), path


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (function-level imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


GRAPH = {name: imports_of(name, path) for name, path in modules()}
OURS = set(GRAPH)


def ours(imported: set[str]) -> set[str]:
    return {m for m in imported if m in OURS}


def roots(imported: set[str]) -> set[str]:
    return {m.split(".")[0] for m in imported}


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if n.startswith("pairchat.domain")))
def test_the_domain_imports_no_lambda_http_or_aws(name: str) -> None:
    assert not roots(GRAPH[name]) & OUTSIDE_WORLD, name
    inward = {
        m for m in ours(GRAPH[name]) if not m.startswith(("pairchat.domain", "pairchat.settings"))
    }
    assert not inward, f"{name} reaches out of the domain: {inward}"


def test_the_lambda_package_never_imports_ops_or_tools() -> None:
    for name, imported in GRAPH.items():
        if name.startswith("pairchat."):
            assert not roots(imported) & {"pairchat_ops", "pairchat_tools"}, name


def test_adapters_do_not_import_entry_points() -> None:
    for name, imported in GRAPH.items():
        if name.startswith("pairchat.adapters"):
            assert not {
                m
                for m in ours(imported)
                if m.startswith(("pairchat.handlers", "pairchat.bootstrap"))
            }, name


def test_ops_never_imports_tools() -> None:
    for name, imported in GRAPH.items():
        if name.startswith("pairchat_ops"):
            assert "pairchat_tools" not in roots(imported), name


def test_no_import_cycles() -> None:
    edges = {name: {m for m in ours(imported) if m != name} for name, imported in GRAPH.items()}
    # A package's __init__ importing its children is not a cycle of design: drop parent edges.
    for name in edges:
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_no_module_imports_another_modules_private_names() -> None:
    for name, imported in GRAPH.items():
        private = {
            m for m in imported if m.rpartition(".")[2].startswith("_") and not m.endswith("__")
        }
        private = {m for m in private if m.rpartition(".")[0] in OURS}
        assert not private, f"{name} imports private names {private}"
