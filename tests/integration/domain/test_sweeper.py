"""The sweeper on a real Redis: sessions really expire (1 s TTLs) and it cleans what is left."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

import pytest
import redis

from pairchat.domain.errors import InvalidField
from pairchat.domain.keys import Keys
from pairchat.domain.scripts import Scripts
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers import sweeper as sweeper_module
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.support import make_sweeper

pytestmark = pytest.mark.integration


class RecordingTelemetry:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    def timing(self, name: str, milliseconds: float) -> None:
        self.counts[name] = milliseconds


@pytest.fixture
def short(settings: Settings) -> Settings:
    """Sessions that expire after 1 s without a heartbeat (as after a lost $disconnect)."""
    return replace(settings, session_ttl_s=1)


def services(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> tuple[ChatService, ChatService]:
    long_lived = ChatService(ChatStore(redis_client, settings), notifier, settings)
    short_lived = ChatService(ChatStore(redis_client, short), notifier, short)
    return long_lived, short_lived


def expire() -> None:
    time.sleep(1.1)


def test_removes_queue_entries_of_expired_sessions_and_keeps_live_ones(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> None:
    live, dying = services(redis_client, settings, short, notifier)
    keys = Keys(settings.key_prefix)
    for i in range(3):
        dying.connect(f"d{i}")
        dying.join(f"d{i}", "male", "female")
    kept = live.connect("k1")
    live.join("k1", "male", "female")
    expire()
    assert redis_client.zcard(keys.queue("male", "female")) == 4  # nothing else cleans them
    telemetry = RecordingTelemetry()
    result = make_sweeper(redis_client, settings, notifier, telemetry).run()
    assert result.queue_entries_removed == 3
    assert result.queue_entries_checked == 4
    assert redis_client.zrange(keys.queue("male", "female"), 0, -1) == [kept]
    assert telemetry.counts["SweptQueueEntries"] == 3
    assert telemetry.counts["SweptRooms"] == 0
    # idempotent: a second run finds nothing more
    assert make_sweeper(redis_client, settings, notifier).run().queue_entries_removed == 0
    # Each run samples the queues' lengths after its removals (the ops series' depth).
    assert result.users_waiting == 1
    minute = int(redis_client.time()[0]) // 60
    depth = redis_client.hgetall(keys.stats_depth(minute))
    assert len(depth) == 6 and depth["wait:chat:male:female"] == "1"
    assert sum(int(v) for v in depth.values()) == 1
    assert 7000 < redis_client.ttl(keys.stats_depth(minute)) <= 7200


def test_reaps_a_room_whose_partner_vanished_and_tells_the_survivor(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> None:
    live, dying = services(redis_client, settings, short, notifier)
    keys = Keys(settings.key_prefix)
    dying.connect("gone")
    live.connect("stays")
    dying.join("gone", "male", "female")
    live.join("stays", "female", "male")
    room = notifier.last("stays")["roomId"]
    other = live.connect("o1"), live.connect("o2")
    live.join("o1", "male", "any")
    live.join("o2", "male", "any")
    live_room = notifier.last("o2")["roomId"]
    expire()
    assert redis_client.exists(keys.room(room)) == 1  # the room outlives its member
    telemetry = RecordingTelemetry()
    result = make_sweeper(redis_client, settings, notifier, telemetry).run()
    assert result.rooms_checked == 2 and result.rooms_reaped == 1
    assert result.partners_notified == 1
    assert notifier.last("stays") == {
        **notifier.last("stays"),
        "type": "partner_left",
        "roomId": room,
    }
    assert redis_client.exists(keys.room(room)) == 0
    assert redis_client.exists(keys.room(live_room)) == 1
    assert all(redis_client.hget(keys.session(u), "room") == live_room for u in other)
    assert telemetry.counts["SweptRooms"] == 1


def test_a_gone_survivor_is_erased_instead_of_told(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> None:
    live, dying = services(redis_client, settings, short, notifier)
    keys = Keys(settings.key_prefix)
    dying.connect("gone")
    survivor = live.connect("zombie")
    dying.join("gone", "male", "female")
    live.join("zombie", "female", "male")
    expire()
    notifier.gone.add("zombie")
    result = make_sweeper(redis_client, settings, notifier).run()
    assert result.rooms_reaped == 1 and result.partners_notified == 0
    assert redis_client.exists(keys.session(survivor), keys.connection("zombie")) == 0


def test_work_per_run_is_bounded_and_runs_resume_where_the_last_stopped(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> None:
    _, dying = services(redis_client, settings, short, notifier)
    keys = Keys(settings.key_prefix)
    for i in range(300):  # > 128 entries: a real hash table, paged by ZSCAN
        dying.connect(f"d{i}")
        dying.join(f"d{i}", "male", "female")
    expire()
    sweeper = make_sweeper(redis_client, settings, None, max_queue_entries=60, page=30)
    removed = []
    for _ in range(30):
        result = sweeper.run()
        assert result.queue_entries_checked <= 60 + 30  # a ZSCAN page may overshoot COUNT
        removed.append(result.queue_entries_removed)
        if redis_client.zcard(keys.queue("male", "female")) == 0:
            break
    assert removed[0] < 300 and len(removed) > 1
    assert sum(removed) == 300
    assert redis_client.zcard(keys.queue("male", "female")) == 0


def test_room_sweeping_is_bounded_and_resumes(
    redis_client: redis.Redis, settings: Settings, short: Settings, notifier: RecordingNotifier
) -> None:
    live, dying = services(redis_client, settings, short, notifier)
    keys = Keys(settings.key_prefix)
    for i in range(30):
        dying.connect(f"a{i}")
        live.connect(f"b{i}")
        dying.join(f"a{i}", "male", "female")
        live.join(f"b{i}", "female", "male")
    expire()
    sweeper = make_sweeper(redis_client, settings, notifier, max_room_scan=20, scan_count=10)
    checked, reaped = [], 0
    for _ in range(100):
        result = sweeper.run()
        checked.append(result.rooms_checked)
        reaped += result.rooms_reaped
        if reaped == 30:
            break
    assert checked[0] < 30 and len(checked) > 1  # one run did not do it all
    assert reaped == 30
    assert not list(redis_client.scan_iter(match=keys.pattern("room")))
    assert all(notifier.types(f"b{i}")[-1] == "partner_left" for i in range(30))


def test_sweep_script_validates_before_writing(
    redis_client: redis.Redis, settings: Settings, service: ChatService
) -> None:
    keys = Keys(settings.key_prefix)
    uid = service.connect("c1")
    service.join("c1", "male", "female")
    scripts = Scripts(redis_client, ("sweep",))
    qname = keys.queue_name("male", "female")
    # a live waiter handed over as a candidate (it rejoined after the ZSCAN read) stays
    reply = scripts.run("sweep", keys.queue("male", "female"), (keys.prefix, "", qname, uid))
    assert (reply.status, dict(reply.fields)) == ("ok", {"removed": "0", "checked": "1"})
    assert redis_client.zscore(keys.queue("male", "female"), uid) is not None
    with pytest.raises(InvalidField):
        scripts.run("sweep", keys.queue("male", "female"), (keys.prefix, "", "wait:chat:x:y", uid))
    with pytest.raises(InvalidField):  # KEYS[1] must be that queue
        scripts.run("sweep", keys.queue("male", "any"), (keys.prefix, "", qname, uid))
    assert redis_client.zcard(keys.queue("male", "female")) == 1


@dataclass
class FakeContext:
    function_name: str = "SweeperFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:sweeper"
    aws_request_id: str = "req-1"


def test_lambda_handler_emits_a_metric_of_what_it_removed(
    redis_client: redis.Redis,
    settings: Settings,
    short: Settings,
    notifier: RecordingNotifier,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, dying = services(redis_client, settings, short, notifier)
    dying.connect("d1")
    dying.join("d1", "female", "any")
    expire()
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("KEY_PREFIX", settings.key_prefix)
    monkeypatch.delenv("MANAGEMENT_ENDPOINT", raising=False)
    monkeypatch.setattr(sweeper_module, "_sweeper", None)
    capsys.readouterr()
    out = sweeper_module.handler({"source": "aws.events"}, FakeContext())  # type: ignore[arg-type]
    assert out["queue_entries_removed"] == 1
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf, "no EMF metrics printed"
    names = {m["Name"] for m in emf[-1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"SweptQueueEntries", "SweptRooms", "SweepDuration"} <= names
    value = emf[-1]["SweptQueueEntries"]
    assert (value if isinstance(value, list) else [value]) == [1]


def test_pairchat_sweep_runs_one_sweep_by_hand(
    redis_client: redis.Redis,
    settings: Settings,
    short: Settings,
    notifier: RecordingNotifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pairchat_tools.cli import main

    monkeypatch.delenv("MANAGEMENT_ENDPOINT", raising=False)
    _, dying = services(redis_client, settings, short, notifier)
    dying.connect("d1")
    dying.join("d1", "male", "male")
    expire()
    argv = ["sweep", "--redis-url", settings.redis_url, "--prefix", settings.key_prefix]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["queue_entries_removed"] == 1
    assert redis_client.zcard(Keys(settings.key_prefix).queue("male", "male")) == 0
