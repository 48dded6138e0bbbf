"""report.lua on a real Redis: the quotas (per reporter, per address, hourly), the room's
minimum age, one report per room and reporter, and the shadow flag (issue 13, item 5 and the
shadow pool). Every refusal is decided before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from pairchat.domain.errors import NoPartner, RateLimited, SessionExpired, TooSoon
from pairchat.domain.service import Caller, ChatService
from pairchat.domain.shadow import ShadowPool
from pairchat.handlers import ws
from tests.conftest import RecordingNotifier, RecordingReports
from tests.integration.conftest import MakeService
from tests.support import keyspace, load_event, pair

pytestmark = pytest.mark.integration


def everything(svc: ChatService) -> dict[str, Any]:
    return keyspace(svc.store.client)


def meet(svc: ChatService, target: str, other: str, first: bool = False) -> None:
    """Puts connection ``other`` (a new user) in a room with ``target`` (user ``u-<target>``,
    who waits in the queue: ``first`` connects it, later calls move it on with ``next``)."""
    if first:
        svc.connect(target, f"u-{target}")
        svc.join(target, "male", "any")
    else:
        svc.next(target)
    svc.connect(other, f"u-{other}")
    svc.join(other, "female", "any")
    assert svc.store.client.hget(svc.store.keys.session(f"u-{other}"), "room"), "not paired"


@pytest.fixture
def reports() -> RecordingReports:
    return RecordingReports()


@pytest.fixture
def make(make_service: MakeService, reports: RecordingReports) -> MakeService:
    def build(**overrides: Any) -> ChatService:
        svc = make_service(**overrides)
        svc.reports = reports
        return svc

    return build


# -- quotas -----------------------------------------------------------------------------------


def test_a_reporter_has_an_hourly_quota_and_a_refusal_writes_nothing(
    make: MakeService, reports: RecordingReports, notifier: RecordingNotifier
) -> None:
    svc = make(reports_per_user_hour=2)
    meet(svc, "a", "p0", first=True)
    svc.report("a", "one")
    meet(svc, "a", "p1")
    svc.report("a", "two")
    meet(svc, "a", "p2")
    before = everything(svc)
    response = ws.handle_message(load_event("report", "a", {"action": "report"}), svc)
    assert response["statusCode"] == 429
    error = notifier.last("a")
    assert error["type"] == "error" and error["code"] == "rate_limited"
    assert "hour" in error["message"]
    assert everything(svc) == before  # no counter, no reporters entry, no `rp`
    assert [r.reason for r in reports.all()] == ["one", "two"]
    # another reporter is not affected
    svc.report("p2", "p2 reports a")
    assert reports.all()[-1].reporter == "u-p2"


def test_an_address_has_an_hourly_quota_for_every_user_behind_it(
    make: MakeService, reports: RecordingReports
) -> None:
    """Anonymous sockets are new users each: the per-reporter quota alone would not hold a
    process that makes new ones, the per-address quota does."""
    svc = make(reports_per_user_hour=100, reports_per_source_hour=3)
    meet(svc, "t", "s0", first=True)
    for i in range(3):  # three users of one address
        if i:
            meet(svc, "t", f"s{i}")
        svc.report(f"s{i}", f"from s{i}", Caller(source="addr-1"))
    meet(svc, "t", "s3")
    before = everything(svc)
    with pytest.raises(RateLimited):
        svc.report("s3", "a fourth user, the same address", Caller(source="addr-1"))
    assert everything(svc) == before
    svc.report("s3", "the same user from another address", Caller(source="addr-2"))
    assert [r.reason for r in reports.all()] == [
        "from s0",
        "from s1",
        "from s2",
        "the same user from another address",
    ]


def test_zero_disables_the_quotas(make: MakeService, reports: RecordingReports) -> None:
    svc = make(reports_per_user_hour=0, reports_per_source_hour=0, shadow_reporters=0)
    meet(svc, "a", "p0", first=True)
    for i in range(8):
        if i:
            meet(svc, "a", f"p{i}")
        svc.report("a", str(i), Caller(source="addr"))
    assert len(reports.all()) == 8
    assert not [k for k in svc.store.client.scan_iter() if ":rate:report" in k]


def test_a_repeated_report_of_one_room_counts_and_writes_nothing(
    make: MakeService, reports: RecordingReports, notifier: RecordingNotifier
) -> None:
    svc = make(reports_per_user_hour=1)
    pair(svc, "a", "b")
    svc.report("a", "first", Caller(source="addr"))
    before = everything(svc)
    svc.report("a", "again", Caller(source="addr"))  # not refused: the client is told `reported`
    assert notifier.types("a")[-2:] == ["reported", "reported"]
    assert everything(svc) == before
    assert [r.reason for r in reports.all()] == ["first"]


# -- the room's minimum age ------------------------------------------------------------------


def test_a_report_about_a_live_room_younger_than_the_minimum_is_too_soon(
    make: MakeService, reports: RecordingReports, notifier: RecordingNotifier
) -> None:
    svc = make(report_min_room_age_s=5)
    pair(svc, "a", "b")
    rid = svc.store.client.hget(svc.store.keys.session("u-a"), "room")
    before = everything(svc)
    response = ws.handle_message(
        load_event("report", "a", {"action": "report", "reason": "x"}), svc
    )
    assert response["statusCode"] == 409
    error = notifier.last("a")
    assert error["code"] == "too_soon" and "5 seconds" in error["message"]
    assert everything(svc) == before and reports.all() == []
    # Five seconds later (the room's start moved back), it is accepted.
    room = svc.store.keys.room(rid)
    svc.store.client.hset(room, "ts", int(svc.store.client.hget(room, "ts")) - 5001)
    svc.report("a", "x")
    assert [r.room_id for r in reports.all()] == [rid]


def test_the_minimum_age_holds_for_a_room_just_left(
    make: MakeService, reports: RecordingReports
) -> None:
    """`next` then `report` must not skip the minimum: an ended room's start is known from the
    reporter's recent-partner key, whose TTL every pairing sets afresh (report.lua's header)."""
    svc = make(report_min_room_age_s=5)
    pair(svc, "a", "b")
    recent = svc.store.keys.recent("u-a")
    ttl_ms = svc.settings.recent_ttl_s * 1000
    # The assumption report.lua relies on: a pairing sets the TTL to RECENT_TTL exactly.
    assert ttl_ms - 1000 < svc.store.client.pttl(recent) <= ttl_ms
    svc.next("a")  # the room ends; a's last partner is b
    with pytest.raises(TooSoon):
        svc.report("a", "after next")
    svc.store.client.pexpire(recent, ttl_ms - 5001)  # as if 5 s had passed
    svc.report("a", "after next")
    assert [r.reported for r in reports.all()] == ["u-b"]
    # Long after (the recent key is gone): old enough.
    svc.store.client.delete(recent, svc.store.keys.recent("u-b"))
    svc.report("b", "b reports a")
    assert len(reports.all()) == 2


def test_refusals_of_who_and_whom_come_first(make: MakeService) -> None:
    svc = make(report_min_room_age_s=5, reports_per_user_hour=1)
    with pytest.raises(SessionExpired):
        svc.report("nobody", "x")
    svc.connect("a", "u-a")
    with pytest.raises(NoPartner):
        svc.report("a", "x")


# -- the shadow flag --------------------------------------------------------------------------


def test_distinct_addresses_shadow_a_user_and_one_address_with_many_users_does_not(
    make: MakeService, reports: RecordingReports, notifier: RecordingNotifier
) -> None:
    svc = make(shadow_reporters=3, shadow_window_s=3600, shadow_cooldown_s=600)
    k, r = svc.store.keys, svc.store.client
    meet(svc, "t", "m0", first=True)
    # Five anonymous users of one address report t: one reporter.
    for i in range(5):
        if i:
            meet(svc, "t", f"m{i}")
        svc.report(f"m{i}", "spam", Caller(source="one-address"))
    assert r.zcard(k.reporters("u-t")) == 1
    assert not r.exists(k.shadow("u-t"))
    meet(svc, "t", "n1")
    svc.report("n1", "spam", Caller(source="second-address"))
    assert not r.exists(k.shadow("u-t"))
    meet(svc, "t", "n2")
    now = svc.store.client.time()
    svc.report("n2", "spam", Caller(source="third-address"))
    # Flagged: the value is the cooldown's end, the key expires then.
    end = int(r.get(k.shadow("u-t")))
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    assert 600_000 <= end - now_ms < 601_000
    assert 599_000 < r.pttl(k.shadow("u-t")) <= 600_000
    assert r.zscore(k.shadowed(), "u-t") == end
    assert 0 < r.pttl(k.reporters("u-t")) <= 3_600_000
    # The reported user is never told.
    told = {f["type"] for f in notifier.frames["t"]}
    assert told <= {"queued", "matched", "partner_left"}, told
    # Operators see it.
    total, listed = ShadowPool(r, k, 3_600_000).page(now_ms)
    assert total == 1 and [(u.user_id, u.reporters) for u in listed] == [("u-t", 3)]


def test_without_an_address_each_reporter_counts_by_its_user(make: MakeService) -> None:
    svc = make(shadow_reporters=3)
    meet(svc, "t", "a0", first=True)
    for i in range(3):
        if i:
            meet(svc, "t", f"a{i}")
        svc.report(f"a{i}", "spam")
    assert svc.store.client.zrange(svc.store.keys.reporters("u-t"), 0, -1) == [
        "u:u-a0",
        "u:u-a1",
        "u:u-a2",
    ]
    assert svc.store.client.exists(svc.store.keys.shadow("u-t"))


def test_reporters_outside_the_window_do_not_count(make: MakeService) -> None:
    svc = make(shadow_reporters=2, shadow_window_s=60)
    k, r = svc.store.keys, svc.store.client
    meet(svc, "t", "o0", first=True)
    svc.report("o0", "spam", Caller(source="early"))
    r.zadd(k.reporters("u-t"), {"early": 1})  # as if it reported long ago
    meet(svc, "t", "o1")
    svc.report("o1", "spam", Caller(source="late"))
    assert r.zrange(k.reporters("u-t"), 0, -1) == ["late"]
    assert not r.exists(k.shadow("u-t"))


def test_zero_reporters_never_shadows(make: MakeService) -> None:
    svc = make(shadow_reporters=0)
    meet(svc, "t", "z0", first=True)
    for i in range(4):
        if i:
            meet(svc, "t", f"z{i}")
        svc.report(f"z{i}", "spam", Caller(source=f"addr-{i}"))
    assert not [
        key for key in svc.store.client.scan_iter() if "shadow" in key or "reporters" in key
    ]


def test_lifting_clears_the_flag_and_the_reporters(make: MakeService) -> None:
    svc = make(shadow_reporters=2)
    k, r = svc.store.keys, svc.store.client
    meet(svc, "t", "l0", first=True)
    svc.report("l0", "spam", Caller(source="x"))
    meet(svc, "t", "l1")
    svc.report("l1", "spam", Caller(source="y"))
    shadow = ShadowPool(r, k, 3_600_000)
    assert r.exists(k.shadow("u-t"))
    assert shadow.lift("u-t") is True
    assert not r.exists(k.shadow("u-t"), k.reporters("u-t"))
    assert r.zscore(k.shadowed(), "u-t") is None
    assert shadow.lift("u-t") is False
    # The next single report does not flag it again at once.
    meet(svc, "t", "l2")
    svc.report("l2", "spam", Caller(source="z"))
    assert not r.exists(k.shadow("u-t"))


def test_the_handler_counts_the_address_the_authorizer_decided(
    make: MakeService, reports: RecordingReports, notifier: RecordingNotifier
) -> None:
    """The address reaches report.lua from ``requestContext.authorizer.source`` (decided at
    ``$connect``), never from the frame: two users behind one address share its quota."""
    svc = make(reports_per_user_hour=10, reports_per_source_hour=1)

    def report(conn: str, source: str) -> int:
        event = load_event("report", conn, {"action": "report", "source": "forged-elsewhere"})
        event["requestContext"]["authorizer"]["source"] = source
        return int(ws.handle_message(event, svc)["statusCode"])

    meet(svc, "t", "h0", first=True)
    assert report("h0", "9f1c2b7e8a55") == 200
    meet(svc, "t", "h1")
    assert report("h1", "9f1c2b7e8a55") == 429
    assert notifier.last("h1")["code"] == "rate_limited"
    assert report("h1", "another-address") == 200
    assert len(reports.all()) == 2


def test_a_token_users_hourly_quota_survives_a_reconnect(
    make: MakeService, reports: RecordingReports
) -> None:
    """The per-minute limits live in the session, which ends at every disconnect; the hourly
    report quota has its own key, so reconnecting does not buy a token user a fresh hour."""
    svc = make(reports_per_user_hour=1)
    svc.connect("a", "u-a", authenticated=True)
    svc.join("a", "male", "any")
    svc.connect("p0", "u-p0")
    svc.join("p0", "female", "any")
    me = Caller(user_id="u-a", authenticated=True)
    svc.report("a", "first", me)  # KEYS[2]: the session the authorizer named
    svc.leave("a", me)
    svc.disconnect("a", me)  # outside a room: the session is gone
    assert not svc.store.client.exists(svc.store.keys.session("u-a"))
    svc.connect("a2", "u-a", authenticated=True)
    svc.join("a2", "male", "any")
    svc.connect("p1", "u-p1")
    svc.join("p1", "female", "any")
    with pytest.raises(RateLimited):
        svc.report("a2", "second, after a reconnect", me)
    assert [r.reason for r in reports.all()] == ["first"]
