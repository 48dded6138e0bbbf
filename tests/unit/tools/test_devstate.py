"""The state file `pairchat dev` leaves for the CLI (pairchat_tools.devstate), and which Redis
the operator commands pick (pairchat_tools.cliargs). No Redis is contacted here."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from pairchat_tools import devstate
from pairchat_tools.cliargs import add_redis_arguments, resolve


def stack(pid: int, port: int = 3001, **kw: object) -> devstate.DevStack:
    return devstate.DevStack(
        pid=pid,
        redis_url="redis://127.0.0.1:40000/0",
        redis_description="private redis-server",
        key_prefix="{dev}:",
        chat_url=f"http://127.0.0.1:{port}/",
        ws_url=f"ws://127.0.0.1:{port}/ws",
        management_endpoint=f"http://127.0.0.1:{port}",
        **kw,  # type: ignore[arg-type]
    )


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path / "pairchat"


def test_state_dir_prefers_xdg_runtime_dir_then_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert devstate.state_dir() == tmp_path / "pairchat"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert devstate.state_dir() == tmp_path / "cache" / "pairchat"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert devstate.state_dir() == tmp_path / "home" / ".cache" / "pairchat"


def test_written_private_found_by_url_and_removed(state: Path) -> None:
    mine = stack(os.getpid())
    path = devstate.write(mine)
    assert path == state / f"dev-{os.getpid()}.json"
    assert path.stat().st_mode & 0o777 == 0o600 and state.stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["redis_url"] == "redis://127.0.0.1:40000/0"
    assert devstate.find() == mine
    assert devstate.find("ws://localhost:3001/ws/") == mine  # loopback names are one host
    assert devstate.find("ws://127.0.0.1:3002/ws") is None
    devstate.remove(path)
    assert devstate.find() is None


def test_stale_files_are_ignored_and_removed(state: Path) -> None:
    gone = devstate.write(stack(dead_pid()))
    # A live pid that is not the process that wrote the file (pid reuse): its start differs.
    reused = devstate.write(stack(os.getpid(), port=3002, proc_start="1"))
    (state / "dev-9.json").write_text("{not json")  # someone else's file: left alone
    assert devstate.running() == []
    assert not gone.exists() and not reused.exists()
    assert (state / "dev-9.json").exists()


def test_newest_first(state: Path) -> None:
    old = stack(os.getpid(), port=3001, started_ms=1)
    new = stack(os.getppid(), port=3002, started_ms=2)
    devstate.write(old)
    devstate.write(new)
    assert [s.ws_url for s in devstate.running()] == [new.ws_url, old.ws_url]


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_redis_arguments(parser)
    return parser.parse_args(list(argv))


def test_which_redis_the_cli_uses(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KEY_PREFIX", raising=False)
    default = resolve(args())
    assert default.settings.redis_url == "redis://127.0.0.1:6379/0"
    assert "no `pairchat dev` is running" in default.source

    devstate.write(stack(os.getpid()))
    found = resolve(args())
    assert found.settings.redis_url == "redis://127.0.0.1:40000/0"
    assert found.settings.key_prefix == "{dev}:"
    assert found.stack is not None and f"pid {os.getpid()}" in found.source

    chosen = resolve(args("--redis-url", "redis://127.0.0.1:1/0", "--prefix", "{x}:"))
    assert chosen.settings.redis_url == "redis://127.0.0.1:1/0" and chosen.source == "--redis-url"
    assert chosen.settings.key_prefix == "{x}:" and chosen.stack is None

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:2/0")
    env = resolve(args())
    assert env.settings.redis_url == "redis://127.0.0.1:2/0" and env.source == "REDIS_URL"
    assert env.settings.key_prefix == "{pairchat}:"


def test_announce_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    target = resolve(args("--redis-url", "redis://:s3cret@127.0.0.1:1/0"))
    target.announce()
    err = capsys.readouterr().err
    assert err == "pairchat: Redis redis://:***@127.0.0.1:1/0 (--redis-url)\n"
