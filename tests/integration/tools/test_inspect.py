"""``pairchat inspect`` against a real Redis, through the real console script entry point."""

from __future__ import annotations

import json

import pytest

from pairchat.domain.service import ChatService
from pairchat.settings import Settings
from pairchat_tools.cli import main
from tests.conftest import RecordingNotifier
from tests.support import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps to the terminal; ids stay whole


def inspect(settings: Settings, *argv: str) -> list[str]:
    return ["inspect", *argv, "--redis-url", settings.redis_url, "--prefix", settings.key_prefix]


def test_stats_table(
    settings: Settings, service: ChatService, capsys: pytest.CaptureFixture[str]
) -> None:
    service.connect("a")
    service.connect("b")
    service.join("a", "male", "female")
    service.join("b", "female", "male")
    service.connect("w")
    service.join("w", "female", "any")
    assert main(inspect(settings, "stats")) == 0
    out = capsys.readouterr().out
    assert "wait:chat:female:any" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    assert rows["users waiting"].split("│")[2].strip() == "1"
    assert rows["active rooms"].split("│")[2].strip() == "1"
    assert rows["live sessions"].split("│")[2].strip() == "3"
    assert rows["matches, last minute"].split("│")[2].strip() == "1"


def test_queue_room_and_user_views(
    settings: Settings,
    service: ChatService,
    notifier: RecordingNotifier,
    capsys: pytest.CaptureFixture[str],
) -> None:
    waiter = service.connect("w")
    service.join("w", "male", "male")
    assert main(inspect(settings, "queue", "male", "male")) == 0
    out = capsys.readouterr().out
    assert "wait:chat:male:male (pool default): 1 waiting" in out and waiter in out

    a = service.connect("a")
    service.connect("b")
    service.join("a", "female", "female")
    service.join("b", "female", "female")
    room = notifier.last("a")["roomId"]
    assert main(inspect(settings, "room", room)) == 0
    out = capsys.readouterr().out
    assert f"Room {room}" in out and a in out and "yes" in out

    assert main(inspect(settings, "user", a)) == 0
    out = capsys.readouterr().out
    assert f"User {a}" in out and "connection" in out and f"Room {room}" in out
    assert "Recent partners (1)" in out

    assert main(inspect(settings, "user", a, "--json")) == 0
    assert json.loads(capsys.readouterr().out)["room"]["room_id"] == room


def test_missing_things_and_unreachable_redis_exit_non_zero(
    settings: Settings, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    assert main(inspect(settings, "room", "nope")) == 1
    assert "no such room" in capsys.readouterr().err
    assert main(inspect(settings, "user", "nobody")) == 1
    dead = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["inspect", "stats", "--redis-url", dead]) == 2
    assert "redis unavailable" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["inspect", "queue", "robot", "any"])


def test_pools_one_pool_and_every_pool(
    settings: Settings,
    redis_client: object,
    notifier: RecordingNotifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from pairchat.domain.store import ChatStore

    monkeypatch.setenv("POOLS", "en,es")
    pooled = replace(settings, pools=("en", "es"))
    for pool, n in (("en", 1), ("es", 2)):
        svc = ChatService(ChatStore(redis_client, pooled, pool), notifier, pooled)  # type: ignore[arg-type]
        for i in range(n):
            svc.connect(f"{pool}{i}", f"u-{pool}{i}")
            svc.join(f"{pool}{i}", "male", "male" if i == 0 else "female")
    assert main(inspect(settings, "pools", "--json")) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["pool"] for p in listed] == ["en", "es"]
    assert main(inspect(settings, "stats", "--pool", "es", "--json")) == 0
    assert json.loads(capsys.readouterr().out)["users_waiting"] == 2
    assert main(inspect(settings, "stats")) == 0
    out = capsys.readouterr().out
    assert "every pool" in out and "Pools" in out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 3}
    assert rows["users waiting"].split("│")[2].strip() == "3"
    assert rows["es"].split("│")[2].strip() == "2"
    assert main(inspect(settings, "queue", "male", "male", "--pool", "es")) == 0
    assert "u-es0" in capsys.readouterr().out
    assert main(inspect(settings, "stats", "--pool", "fr")) == 1
    assert "no such pool" in capsys.readouterr().err
