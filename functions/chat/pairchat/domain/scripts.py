"""Loads the Lua scripts in ``lua/`` and calls them.

``-- @include name`` lines are replaced by ``lua/name.lua`` before the script is registered.
redis-py's ``register_script`` sends EVALSHA and, on NOSCRIPT (after a failover or a
``SCRIPT FLUSH``), loads the script and retries: one round trip in the normal case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from pairchat.domain.errors import ScriptContractError, error_for_code

_INCLUDE = re.compile(r"^-- @include (\w+)\s*$", re.MULTILINE)
SCRIPT_NAMES = (
    "connect",
    "match",
    "relay",
    "leave",
    "heartbeat",
    "report",
    "block",
    "reap",
    "sweep",
)


class ScriptRunner(Protocol):
    def __call__(
        self, keys: Sequence[Any] | None = ..., args: Sequence[Any] | None = ..., client: Any = ...
    ) -> Any: ...


class ScriptingClient(Protocol):
    """What pairchat needs of a Redis client: ``redis.Redis`` and ``RedisCluster`` both fit."""

    def register_script(self, script: str) -> Any: ...


def lua_dir() -> Path:
    """Where the scripts are: inside the package in a built artifact, else the repo's lua/."""
    package = Path(__file__).resolve().parent.parent  # pairchat/
    for candidate in (package / "lua", package.parent.parent.parent / "lua"):
        if (candidate / "match.lua").is_file():
            return candidate
    raise FileNotFoundError("lua scripts not found next to the package or in the repo")


@cache
def source(name: str) -> str:
    """The script's text with its includes spliced in."""
    base = lua_dir()
    text = (base / f"{name}.lua").read_text()
    return _INCLUDE.sub(lambda m: (base / f"{m.group(1)}.lua").read_text(), text)


class Scripts:
    """The registered scripts of one Redis client."""

    def __init__(self, client: ScriptingClient, names: Sequence[str] = SCRIPT_NAMES) -> None:
        self._scripts: dict[str, Any] = {n: client.register_script(source(n)) for n in names}

    def run(self, name: str, key: str, args: Sequence[str | int | float]) -> list[str]:
        """Runs a script; ``{'error', code}`` replies raise the typed error for that code."""
        reply = self._scripts[name](keys=[key], args=list(args))
        if not isinstance(reply, list) or not reply:
            raise ScriptContractError(f"{name}.lua returned {reply!r}")
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
        if values[0] == "error":
            raise error_for_code(values[1] if len(values) > 1 else "")
        return values
