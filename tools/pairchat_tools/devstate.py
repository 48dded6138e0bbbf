"""Where a running ``pairchat dev`` stack says what it serves, so the other commands find it.

``pairchat dev`` writes one JSON file per process once it is ready (``dev-<pid>.json``) and
removes it when it stops. ``pairchat inspect``, ``pairchat sweep`` and ``pairchat bots`` read
these files: without them a newcomer's ``pairchat inspect stats`` would go to the default
``redis://127.0.0.1:6379`` (someone else's Redis, or nothing) instead of the dev stack's private
one. A file whose process is gone (``kill -9``, a crash) is stale: it is ignored and removed.

The directory is ``$XDG_RUNTIME_DIR/pairchat`` (per-user, in memory, cleared at logout) when
that variable is set, else ``$XDG_CACHE_HOME/pairchat`` (``~/.cache/pairchat``). It is created
0700 and the files 0600, since a Redis URL may carry a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

FORMAT_VERSION = 1


def state_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "pairchat"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "pairchat"


def redact(url: str) -> str:
    """A Redis URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


@dataclass
class DevStack:
    """What one running ``pairchat dev`` serves."""

    pid: int
    redis_url: str
    #: The banner's Redis line: "private redis-server (pid N) at URL", "fakeredis", ...
    redis_description: str
    key_prefix: str
    chat_url: str
    ws_url: str
    management_endpoint: str
    ops_url: str | None = None
    #: The handlers' per-user limits (RATE_JOINS_PER_WINDOW, RATE_MESSAGES_PER_WINDOW,
    #: RATE_WINDOW_SECONDS), so ``pairchat bots`` can keep under them.
    rate_joins: int = 20
    rate_messages: int = 60
    rate_window_s: int = 60
    #: The stack's local report store (REPORTS_TABLE at DYNAMODB_ENDPOINT), so ``pairchat
    #: inspect reports`` reads what the stack wrote.
    reports_table: str | None = None
    dynamodb_endpoint: str | None = None
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    #: The process's start time as the kernel counts it (Linux), so a reused pid is not
    #: mistaken for this stack.
    proc_start: str | None = None
    version: int = FORMAT_VERSION
    path: Path | None = field(default=None, compare=False)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("path")
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> DevStack:
        data: dict[str, Any] = json.loads(text)
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"state file version {data.get('version')!r}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "path"}
        return cls(**known, path=path)


def _proc_start(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks since boot), or None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(stack: DevStack) -> bool:
    try:
        os.kill(stack.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: alive, but then the start time must match too
    if stack.proc_start is not None:
        now = _proc_start(stack.pid)
        return now is None or now == stack.proc_start
    return True


def write(stack: DevStack, directory: Path | None = None) -> Path:
    """Records ``stack`` (atomically: readers never see half a file); returns the path."""
    directory = directory or state_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stack.proc_start = stack.proc_start or _proc_start(stack.pid)
    path = directory / f"dev-{stack.pid}.json"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".dev-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(stack.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    stack.path = path
    return path


def remove(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def running(directory: Path | None = None) -> list[DevStack]:
    """The live stacks, newest first. Stale files (dead process) are removed on the way."""
    directory = directory or state_dir()
    stacks: list[DevStack] = []
    try:
        paths = sorted(directory.glob("dev-*.json"))
    except OSError:
        return []
    for path in paths:
        try:
            stack = DevStack.from_json(path.read_text(), path)
        except (OSError, ValueError, TypeError):
            continue  # being written by a newer version, or not ours: leave it alone
        if _alive(stack):
            stacks.append(stack)
        else:
            remove(path)
    return sorted(stacks, key=lambda s: s.started_ms, reverse=True)


def _same_endpoint(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    local = {"localhost", "127.0.0.1", "::1"}

    def host(h: str | None) -> str:
        return "loopback" if h in local else (h or "")

    return (
        host(pa.hostname) == host(pb.hostname)
        and pa.port == pb.port
        and pa.path.rstrip("/") == pb.path.rstrip("/")
    )


def find(ws_url: str | None = None, directory: Path | None = None) -> DevStack | None:
    """The stack serving ``ws_url``; without one, the newest running stack."""
    stacks = running(directory)
    if ws_url is None:
        return stacks[0] if stacks else None
    return next((s for s in stacks if _same_endpoint(s.ws_url, ws_url)), None)
