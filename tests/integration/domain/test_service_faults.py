"""Faults, one test each: 410 at every post site, Management API throttling and 5xx, a post
that timed out but was delivered, Redis failing, NOSCRIPT, duplicate requests, and a
``$disconnect`` that never comes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis
from botocore.retries import standard

from pairchat.adapters import management as notifier_module
from pairchat.adapters.management import DeliveryFailed, ManagementApiNotifier, management_client
from pairchat.domain.errors import AlreadyInRoom
from pairchat.domain.protocol import frame
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers import ws
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier
from tests.integration.conftest import MakeService
from tests.support import load_event, make_sweeper, pair

pytestmark = pytest.mark.integration


def erased(svc: ChatService, cid: str, uid: str) -> bool:
    """Nothing of the connection is left: no conn key, no session, no queue entry, no room."""
    r, k = svc.store.client, svc.store.keys
    in_queue = any(r.zscore(q, uid) is not None for _g, _p, q in k.all_queues())
    in_room = any(uid in r.hvals(key) for key in r.scan_iter(k.pattern("room")))
    return not r.exists(k.connection(cid), k.session(uid)) and not in_queue and not in_room


# -- 410 Gone at every post site ---------------------------------------------------------------


def _queued(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    svc.connect("a", "u-a")
    n.gone.add("a")
    svc.join("a", "male", "any")
    return "a", "u-a", None


def _matched_waiter(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    svc.connect("a", "u-a")
    svc.connect("b", "u-b")
    svc.join("a", "male", "any")
    n.gone.add("a")
    svc.join("b", "female", "any")
    assert "matched" not in n.types("b") and n.last("b")["type"] == "queued"
    return "a", "u-a", None


def _matched_joiner(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    svc.connect("a", "u-a")
    svc.connect("b", "u-b")
    svc.join("a", "male", "any")
    n.gone.add("b")
    svc.join("b", "female", "any")
    return "b", "u-b", "a"


def _message(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("b")
    svc.send("a", "hello")
    return "b", "u-b", "a"


def _partner_left(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("b")
    svc.leave("a")
    assert n.last("a")["type"] == "left"
    return "b", "u-b", None


def _left(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("a")
    svc.leave("a")
    return "a", "u-a", None


def _pong(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("a")
    svc.heartbeat("a")
    return "a", "u-a", "b"


def _error(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("a")
    ws.handle_message(load_event("send", "a", "{not json"), svc)
    return "a", "u-a", "b"


def _reported(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("a")
    svc.report("a", "spam")
    return "a", "u-a", "b"


def _blocked(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    n.gone.add("a")
    svc.block("a")
    return "a", "u-a", None  # b was told partner_left by the block itself


def _partner_reconnecting(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b", token=True)
    n.gone.add("a")
    svc.disconnect("b")  # b goes away; telling a meets 410: the room ends
    assert not svc.store.client.hexists(svc.store.keys.session("u-b"), "room")
    return "a", "u-a", None


def _partner_back(svc: ChatService, n: RecordingNotifier) -> tuple[str, str, str | None]:
    pair(svc, "a", "b", token=True)
    svc.disconnect("b")
    n.gone.add("a")
    svc.connect("b2", "u-b", authenticated=True)
    svc.heartbeat("b2")
    assert n.last("b2")["state"] == "idle"  # told on its first heartbeat
    return "a", "u-a", None


def _partner_left_on_heartbeat(
    svc: ChatService, n: RecordingNotifier
) -> tuple[str, str, str | None]:
    pair(svc, "a", "b")
    svc.store.client.delete(svc.store.keys.session("u-b"))  # b expired
    n.gone.add("a")
    svc.heartbeat("a")
    return "a", "u-a", None


POST_SITES: dict[str, Callable[[ChatService, RecordingNotifier], tuple[str, str, str | None]]] = {
    "queued": _queued,
    "matched (waiter)": _matched_waiter,
    "matched (joiner)": _matched_joiner,
    "message": _message,
    "partner_left": _partner_left,
    "left": _left,
    "pong": _pong,
    "error": _error,
    "reported": _reported,
    "blocked": _blocked,
    "partner_reconnecting": _partner_reconnecting,
    "partner_back": _partner_back,
    "partner_left (heartbeat)": _partner_left_on_heartbeat,
}


@pytest.mark.parametrize("site", POST_SITES)
def test_410_at_every_post_site(
    site: str, service: ChatService, notifier: RecordingNotifier
) -> None:
    gone_cid, gone_uid, survivor = POST_SITES[site](service, notifier)
    assert gone_cid in notifier.calls  # the post was attempted and met 410
    assert erased(service, gone_cid, gone_uid)
    if survivor:
        assert notifier.last(survivor)["type"] == "partner_left"
        assert not service.store.client.hexists(service.store.keys.session(f"u-{survivor}"), "room")


# -- the Management API over HTTP: throttling, 5xx, a timeout after delivery --------------


@dataclass
class StubApi:
    """A Management API on loopback: answers each POST from ``script`` (then 200)."""

    script: list[tuple[int, str, float]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def stub_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubApi]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    state = StubApi()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.bodies.append(body)
                state.paths.append(self.path)
                status, error, delay = state.script.pop(0) if state.script else (200, "", 0.0)
            if delay:
                time.sleep(delay)
            payload = json.dumps({"message": error}).encode() if error else b""
            try:
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/prod"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Transport:
    """One of the two Management API clients, with the backoff delays it chose recorded."""

    name: str
    make: Callable[[StubApi, float], Any]
    delays: list[float]


@pytest.fixture(params=["boto3", "signed"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Transport:
    """boto3 + botocore standard retries (tools, MANAGEMENT_TRANSPORT=boto3), or the stdlib
    SigV4 client the Lambda handlers use. Both jitter their backoff with a random factor,
    pinned small here for speed and recorded."""
    seen: list[float] = []
    if request.param == "boto3":
        original_init = standard.ExponentialBackoff.__init__
        original_delay = standard.ExponentialBackoff.delay_amount

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            kwargs["random"] = lambda: 0.01  # the jitter factor (0..1)
            original_init(self, *args, **kwargs)

        def delay_amount(self: Any, context: Any) -> float:
            value = float(original_delay(self, context))
            seen.append(value)
            return value

        monkeypatch.setattr(standard.ExponentialBackoff, "__init__", init)
        monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)

        def make(api: StubApi, timeout: float) -> Any:
            return ManagementApiNotifier(management_client(api.url, "us-east-1", timeout, 3))

        return Transport("boto3", make, seen)

    def uniform(low: float, high: float) -> float:
        seen.append(high)  # the cap of the jittered delay uniform(0, cap)
        return low + (high - low) * 0.01

    monkeypatch.setattr(notifier_module.random, "uniform", uniform)

    def make_signed(api: StubApi, timeout: float) -> Any:
        creds = notifier_module.Credentials("AKIDTEST", "secret")
        return notifier_module.SignedHttpNotifier(api.url, "us-east-1", creds, timeout, 3)

    return Transport("signed", make_signed, seen)


def test_throttling_is_retried_with_jittered_backoff(
    stub_api: StubApi, transport: Transport
) -> None:
    stub_api.script = [(429, "LimitExceededException", 0), (429, "LimitExceededException", 0)]
    assert transport.make(stub_api, 2.0).post("conn-1", frame("pong"))
    assert len(stub_api.bodies) == 3
    assert len(transport.delays) == 2
    if transport.name == "boto3":
        # rand() * min(1 s * 2**i, 20 s): the jitter factor times the throttling scale
        assert transport.delays == pytest.approx([0.01, 0.02])
    else:
        assert transport.delays[0] < transport.delays[1] <= 1.0  # exponential, capped
    assert stub_api.paths[0].endswith("/@connections/conn-1")


def test_5xx_retries_are_bounded_then_delivery_fails(
    stub_api: StubApi, transport: Transport
) -> None:
    stub_api.script = [(500, "InternalServerErrorException", 0)] * 5
    with pytest.raises(DeliveryFailed):
        transport.make(stub_api, 2.0).post("conn-1", frame("pong"))
    assert len(stub_api.bodies) == 3  # max_attempts, never more
    assert len(transport.delays) == 2


def test_410_over_http_is_not_retried(stub_api: StubApi, transport: Transport) -> None:
    stub_api.script = [(410, "GoneException", 0)]
    assert transport.make(stub_api, 2.0).post("conn-1", frame("pong")) is False
    assert len(stub_api.bodies) == 1


def test_a_post_that_timed_out_but_was_delivered_is_a_duplicate_with_the_same_id(
    stub_api: StubApi, transport: Transport
) -> None:
    stub_api.script = [(200, "", 1.0)]  # received, answered after the client gave up
    assert transport.make(stub_api, 0.3).post("conn-1", frame("message", text="hi"))
    first, second = (json.loads(b) for b in stub_api.bodies[:2])
    assert first == second and first["id"]  # the client drops the second by its id


def test_delivery_failure_while_announcing_undoes_the_pair(
    service: ChatService, notifier: RecordingNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Management API down for the waiter: the pair is dissolved, the joiner is not told."""
    service.connect("a", "u-a")
    service.connect("b", "u-b")
    service.join("a", "male", "any")
    original = notifier.post

    def post(cid: str, data: dict[str, Any]) -> bool:
        if cid == "a" and data["type"] == "matched":
            raise DeliveryFailed("503 after retries")
        return original(cid, data)

    monkeypatch.setattr(notifier, "post", post)
    assert ws.handle_message(
        load_event("join", "b", {"action": "join", "gender": "female", "preference": "any"}),
        service,
    ) == {"statusCode": 200}
    assert "matched" not in notifier.types("b") and notifier.last("b")["type"] == "queued"
    assert not list(service.store.client.scan_iter(service.store.keys.pattern("room")))


def test_delivery_failure_elsewhere_is_a_502_not_an_exception(
    service: ChatService, notifier: RecordingNotifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair(service, "a", "b")

    def post(cid: str, data: dict[str, Any]) -> bool:
        raise DeliveryFailed("throttled")

    monkeypatch.setattr(notifier, "post", post)
    event = load_event("send", "a", {"action": "send", "text": "hi"})
    assert ws.handle_message(event, service) == {"statusCode": 502}
    assert ws.handle_disconnect(load_event("$disconnect", "a"), service) == {"statusCode": 502}


# -- Redis failing --------------------------------------------------------------------------


class FlakyRedis(redis.Redis):
    """Fails the ``fail_at``-th command (0-based) with a connection error."""

    fail_at: int | None = None
    calls = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        n = self.calls
        self.calls += 1
        if self.fail_at is not None and n == self.fail_at:
            raise redis.ConnectionError("injected: connection lost")
        return super().execute_command(*args, **options)


def _flaky_service(
    redis_url: str, settings: Settings, notifier: RecordingNotifier
) -> tuple[ChatService, FlakyRedis]:
    client = FlakyRedis.from_url(redis_url, decode_responses=True)
    assert isinstance(client, FlakyRedis)
    return ChatService(ChatStore(client, settings), notifier, settings), client


def consistent(r: redis.Redis, svc: ChatService) -> None:
    """Redis holds no broken structure: rooms and sessions point at each other."""
    k = svc.store.keys
    prefix = k.room("")
    for key in r.scan_iter(k.pattern("room")):
        rid = key[len(prefix) :]
        members = r.hmget(key, "a", "b")
        assert all(members) and members[0] != members[1]
        for m in members:
            assert r.hget(k.session(m), "room") in (rid, None)
    for key in r.scan_iter(k.pattern("sess")):
        s = r.hgetall(key)
        if "room" in s:
            assert r.exists(k.room(s["room"])) and "q" not in s
        if "q" in s:
            assert r.zscore(k.prefix + s["q"], key.rsplit(":", 1)[1]) is not None


@pytest.mark.parametrize("fail_at", range(6))
def test_redis_failing_mid_request_leaves_no_half_done_state(
    fail_at: int,
    redis_url: str,
    redis_client: redis.Redis,
    settings: Settings,
    notifier: RecordingNotifier,
) -> None:
    svc, client = _flaky_service(redis_url, settings, notifier)
    svc.connect("w1", "u-w1")
    svc.connect("w2", "u-w2")
    svc.connect("j", "u-j")
    svc.join("w1", "male", "any")
    svc.join("w2", "male", "any")
    notifier.gone.add("w1")  # the oldest waiter is dead: join = match, 410, leave, match again
    client.calls, client.fail_at = 0, fail_at
    event = load_event("join", "j", {"action": "join", "gender": "female", "preference": "any"})
    response = ws.handle_message(event, svc)
    client.fail_at = None
    consistent(redis_client, svc)
    if response["statusCode"] == 503:
        assert notifier.last("j")["code"] == "unavailable"
    # Whatever happened, the joiner's next heartbeat tells it the truth.
    svc.heartbeat("j")
    pong = notifier.last("j")
    s = redis_client.hgetall(svc.store.keys.session("u-j"))
    assert pong["state"] == ("room" if "room" in s else "queued" if "q" in s else "idle")


def test_redis_unreachable_everywhere(api_settings: Settings, notifier: RecordingNotifier) -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, decode_responses=True)
    svc = ChatService(ChatStore(dead, api_settings), notifier, api_settings)
    for action, body in [
        ("join", {"action": "join", "gender": "male", "preference": "any"}),
        ("report", {"action": "report"}),
        ("block", {"action": "block"}),
        ("heartbeat", {"action": "heartbeat"}),
    ]:
        assert ws.handle_message(load_event(action, "x", body), svc)["statusCode"] == 503
        assert notifier.last("x")["code"] == "unavailable"
    assert ws.handle_connect(load_event("$connect", "y"), svc)["statusCode"] == 503
    assert ws.handle_disconnect(load_event("$disconnect", "y"), svc)["statusCode"] == 503


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return replace(settings, redis_url="redis://127.0.0.1:1/0")


# -- NOSCRIPT and duplicates ----------------------------------------------------------------


def test_noscript_after_script_flush_is_reloaded_transparently(
    service: ChatService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    pair(service, "a", "b")
    for step in (
        lambda: service.send("a", "1"),
        lambda: service.report("a", "x"),
        lambda: service.heartbeat("b"),
        lambda: service.block("b"),
        lambda: service.join("a", "male", "any"),
        lambda: service.leave("a"),
    ):
        redis_client.script_flush()
        step()
    assert notifier.types("a")[-3:] == ["partner_left", "queued", "left"]


def test_the_same_join_delivered_twice_is_idempotent(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    service.connect("a", "u-a")
    event = load_event("join", "a", {"action": "join", "gender": "male", "preference": "any"})
    ws.handle_message(event, service)
    k = service.store.keys
    score = service.store.client.zscore(k.queue("male", "any"), "u-a")
    ws.handle_message(event, service)
    assert service.store.client.zrange(k.queue("male", "any"), 0, -1) == ["u-a"]
    assert service.store.client.zscore(k.queue("male", "any"), "u-a") == score
    assert notifier.types("a") == ["queued", "queued"]
    service.connect("b", "u-b")
    join_b = load_event("join", "b", {"action": "join", "gender": "female", "preference": "any"})
    ws.handle_message(join_b, service)
    rooms = list(service.store.client.scan_iter(k.pattern("room")))
    assert ws.handle_message(join_b, service)["statusCode"] == AlreadyInRoom.status
    assert notifier.last("b")["code"] == "already_in_room"
    assert list(service.store.client.scan_iter(k.pattern("room"))) == rooms


# -- $disconnect never delivered ------------------------------------------------------------


def test_lost_disconnects_leave_no_trace_after_ttl_and_one_sweep(
    make_service: MakeService, notifier: RecordingNotifier, redis_client: redis.Redis
) -> None:
    svc = make_service(session_ttl_s=1, reconnect_grace_s=1)
    pair(svc, "a", "b", token=True)  # a room of two token users
    pair(svc, "c", "d")  # a room of two anonymous users
    svc.connect("e", "u-e")
    svc.join("e", "male", "male")  # a waiter
    svc.disconnect("a")  # b: partner_reconnecting; a never comes back; b's socket dies too
    time.sleep(1.3)  # every session TTL (and a's grace) has run out; no $disconnect came
    result = make_sweeper(redis_client, svc.settings, notifier).run()
    assert result.queue_entries_removed == 1 and result.rooms_reaped == 2
    left = {key.split(":", 2)[1].split(":")[0]: key for key in redis_client.scan_iter()}
    for kind in ("sess", "conn", "room", "wait"):
        assert not list(redis_client.scan_iter(svc.store.keys.pattern(kind))), kind
    # What remains is bookkeeping that expires by itself and names no connection, and the
    # pool's counters (no user id in them).
    for key in redis_client.scan_iter():
        ttl = redis_client.ttl(key)
        assert key.endswith(("sweeper", "reports", "pool")) or 0 < ttl <= 7200, (key, ttl)
    assert not redis_client.exists(svc.store.keys.online())  # lapsed registrations swept
    assert left  # recent partners and stats are still there, on their TTL
