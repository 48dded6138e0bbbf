"""Loads the Lua scripts in ``lua/``, calls them, and decodes their replies by name.

Splicing: a ``-- @include <path>`` line (``common``, ``includes/dissolve``: a path under
``lua/`` without ``.lua``) is replaced by that file, whose own includes are spliced first;
each file goes in once per script, at its first mention, so a helper is defined before the
code that uses it. Every script starts with ``-- @include common``; the helpers in
``lua/includes/`` rely on it. The splice moves every line, so Redis's ``user_script:<n>`` in
an error means nothing by itself: :class:`Spliced` keeps where each line came from, and
:meth:`Scripts.run` rewrites the message to name ``<file>.lua:<line>``.

Replies: ``{status, name, value, name, value, ...}`` (lua/common.lua). :data:`REPLIES`
declares, per script and status, the names in order, as the script's header does
(``Reply 'ok': room_id, user_id.``; tests/unit/domain/test_scripts.py pins the two). A reply
whose names differ is a :class:`ScriptContractError`, so a field added on one side only
fails loudly instead of shifting the others.

redis-py's ``register_script`` sends EVALSHA and, on NOSCRIPT (after a failover or a
``SCRIPT FLUSH``), loads the script and retries: one round trip in the normal case.

In cluster mode every script is registered with a ``#!lua`` shebang. Redis 7 (and Valkey)
then refuse a script that touches a second slot even when both slots sit on the same node
(without a shebang it allows that, for old scripts' sake). Every key of a pool shares the
pool's hash tag, so a key built from another pool's prefix fails loudly instead of quietly
writing into another pool. A shebang script is refused whole when the cache is out of
memory, before any write; the clean-up scripts (they free memory) say ``allow-oom``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Protocol

from redis.exceptions import ResponseError

from pairchat.domain.errors import ScriptContractError, error_for_code

INCLUDE: Final = re.compile(r"^-- @include ([\w/]+)\s*$")
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
    "mirror_block",
    "typing",
)

#: What a pairing tells, whether a join (match.lua) or a waiter's heartbeat (heartbeat.lua)
#: made it: both 'matched' replies start with these fields, then add their own.
_PAIRED: Final = (
    "room_id",
    "user_id",
    "partner_id",
    "partner_connection",
    "waited_ms",
    "gender",
    "preference",
    "interests",
    "fallback",
    "common_interests",
    "relaxed",
)

#: Per script, per reply status: the field names in the order the script sends them.
REPLIES: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "connect": {"ok": ("previous_connection", "resumed_room_id", "partner_connection")},
    "match": {
        "matched": (
            *_PAIRED,
            "left_room_id",
            "left_partner_connection",
            "stale_removed",
        ),
        "queued": (
            "queue",
            "user_id",
            "gender",
            "preference",
            "interests",
            "fallback",
            "online",
            "eta_ms",
            "only_recent",
            "retry_ms",
            "left_room_id",
            "left_partner_connection",
            "stale_removed",
        ),
    },
    "relay": {
        "ok": ("room_id", "partner_connection"),
        "partner_gone": ("room_id",),
    },
    "leave": {
        "left": ("user_id", "room_id", "partner_id", "partner_connection", "was_queued"),
        "away": ("user_id", "room_id", "partner_id", "partner_connection", "was_queued"),
    },
    "heartbeat": {
        "room": ("user_id", "room_id", "partner_id"),
        "idle": ("user_id", "left_room_id"),
        "queued": (
            "user_id",
            "queue",
            "online",
            "eta_ms",
            "only_recent",
            "retry_ms",
            "stale_removed",
        ),
        "matched": (*_PAIRED, "online", "eta_ms", "only_recent", "retry_ms", "stale_removed"),
    },
    "report": {"ok": ("room_id", "user_id", "reported_id", "ts", "reporters", "shadowed")},
    "block": {"ok": ("room_id", "user_id", "blocked_id", "partner_connection")},
    "reap": {
        "alive": ("room_id",),
        "none": ("room_id",),
        "reaped": ("room_id", "survivor_id", "survivor_connection"),
    },
    "sweep": {"ok": ("removed", "checked")},
    "mirror_block": {"ok": ("added",)},
    "typing": {"ok": ("room_id", "partner_connection"), "dropped": ("reason",)},
}

_SCRIPT_LINE = re.compile(r"user_script:(\d+)")


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


@dataclass(frozen=True)
class Spliced:
    """A script with its includes spliced in, and where each of its lines came from."""

    name: str
    text: str
    #: Per line of ``text`` (line n at index n-1): the file under lua/ and its line there.
    origin: tuple[tuple[str, int], ...]

    def locate(self, line: int) -> tuple[str, int]:
        """The file and line that line ``line`` (1-based) of the spliced text came from."""
        if 1 <= line <= len(self.origin):
            return self.origin[line - 1]
        return (f"{self.name}.lua(spliced)", line)

    def explain(self, message: str, shebang: bool = False) -> str:
        """A Redis error message with each ``user_script:<n>`` followed by its real place
        (Redis counts a shebang as line 1)."""

        def place(m: re.Match[str]) -> str:
            file, line = self.locate(int(m.group(1)) - shebang)
            where = f"{file}:{line}"
            if file != f"{self.name}.lua":
                where += f" in {self.name}.lua"
            return f"{m.group(0)} ({where})"

        return _SCRIPT_LINE.sub(place, message)


@cache
def spliced(name: str) -> Spliced:
    base = lua_dir()
    lines: list[str] = []
    origin: list[tuple[str, int]] = []
    seen = {name}

    def splice(path: str) -> None:
        text = (base / f"{path}.lua").read_text()
        for number, line in enumerate(text.splitlines(), 1):
            include = INCLUDE.match(line)
            if include is None:
                lines.append(line)
                origin.append((f"{path}.lua", number))
            elif include.group(1) not in seen:
                seen.add(include.group(1))
                splice(include.group(1))

    splice(name)
    keep = _used_definitions(lines)
    lines = [line for line, kept in zip(lines, keep, strict=True) if kept]
    origin = [where for where, kept in zip(origin, keep, strict=True) if kept]
    return Spliced(name, "\n".join(lines) + "\n", tuple(origin))


_FUNCTION = re.compile(r"^local function (\w+)\(")
_WORD = re.compile(r"\w+")


def _used_definitions(lines: list[str]) -> list[bool]:
    """Which lines to keep: all but the top-level ``local function`` definitions no code
    calls (common.lua's builders and helpers a script does not use, and what only they
    used). Redis runs a script's whole text on every call, and each definition allocates a
    closure that the garbage collector then sweeps while the script's own commands run:
    measured, the unused ones cost relay.lua about a third of its server time. A definition
    is a line ``local function name(`` up to the next line ``end`` (or that line alone when
    it ends with ``end``); uses are counted in code, comments stripped."""
    blocks: dict[str, range] = {}
    i = 0
    while i < len(lines):
        found = _FUNCTION.match(lines[i])
        if found is None:
            i += 1
            continue
        end = i
        if not lines[i].rstrip().endswith(" end"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j] == "end")
        blocks[found.group(1)] = range(i, end + 1)
        i = end + 1
    code = [line.split("--", 1)[0] for line in lines]
    keep = [True] * len(lines)
    removed = True
    while removed:
        removed = False
        uses: dict[str, int] = {}
        for n, line in enumerate(code):
            if keep[n]:
                for word in _WORD.findall(line):
                    uses[word] = uses.get(word, 0) + 1
        for fname, block in blocks.items():
            if keep[block.start] and uses.get(fname, 0) <= 1:  # its own definition only
                for n in block:
                    keep[n] = False
                removed = True
    return keep


#: Shebang flags of the scripts that must run when the cache is full (they only free memory).
CLUSTER_FLAGS: Final = {"leave": "allow-oom", "reap": "allow-oom", "sweep": "allow-oom"}


def is_cluster(client: object) -> bool:
    """A ``RedisCluster`` (or anything that routes keys to nodes)."""
    return hasattr(client, "get_node_from_key")


def shebang(name: str) -> str:
    """The first line a script gets in cluster mode (the module docstring says why)."""
    flags = CLUSTER_FLAGS.get(name)
    return f"#!lua flags={flags}" if flags else "#!lua"


def source(name: str, cluster: bool = False) -> str:
    """The script's text with its includes spliced in (what SCRIPT LOAD gets); with the
    ``#!lua`` shebang in cluster mode."""
    text = spliced(name).text
    return f"{shebang(name)}\n{text}" if cluster else text


@dataclass(frozen=True)
class Reply:
    """A script's reply: its status and its fields by name."""

    status: str
    fields: Mapping[str, str]

    def __getitem__(self, name: str) -> str:
        return self.fields[name]

    def get(self, name: str) -> str:
        """A field this status may lack ('' then, as the scripts spell "none")."""
        return self.fields.get(name, "")


def decode(name: str, raw: Any) -> Reply:
    """Checks a raw reply against :data:`REPLIES`; ``{'error', 'code', c}`` raises the
    typed error for ``c``."""
    if not isinstance(raw, list) or not raw or len(raw) % 2 == 0:
        raise ScriptContractError(f"{name}.lua returned {raw!r}")
    values = [v.decode() if isinstance(v, bytes) else str(v) for v in raw]
    status, names, data = values[0], tuple(values[1::2]), values[2::2]
    if status == "error" and names == ("code",):
        raise error_for_code(data[0])
    if REPLIES.get(name, {}).get(status) != names:
        raise ScriptContractError(f"{name}.lua replied {status!r} with fields {names}")
    return Reply(status, dict(zip(names, data, strict=True)))


class Scripts:
    """The registered scripts of one Redis client."""

    def __init__(self, client: ScriptingClient, names: Sequence[str] = SCRIPT_NAMES) -> None:
        cluster = is_cluster(client)
        self._shebang = cluster
        self._scripts: dict[str, Any] = {
            n: client.register_script(source(n, cluster)) for n in names
        }

    def run(self, name: str, key: str, args: Sequence[str | int | float], *more_keys: str) -> Reply:
        """Runs a script and decodes its reply. A Redis error raised while it ran names the
        file and line of lua/ it came from (the spliced line number alone is misleading)."""
        try:
            raw = self._scripts[name](keys=[key, *more_keys], args=list(args))
        except ResponseError as error:
            message = str(error)
            if not _SCRIPT_LINE.search(message):
                raise
            raise type(error)(spliced(name).explain(message, self._shebang)) from error
        return decode(name, raw)
