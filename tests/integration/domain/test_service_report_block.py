"""report and block act on the partner the server knows, never on ids from the frame."""

from __future__ import annotations

import json

import pytest

from pairchat.domain.errors import NoPartner, SessionExpired
from pairchat.domain.reports import REPORT_ID
from pairchat.domain.service import ChatService
from pairchat.handlers import ws
from tests.conftest import RecordingNotifier, RecordingReports
from tests.support import load_event, pair

pytestmark = pytest.mark.integration


@pytest.fixture
def store_of_reports() -> RecordingReports:
    return RecordingReports()


@pytest.fixture
def reporting(service: ChatService, store_of_reports: RecordingReports) -> ChatService:
    """The service with a durable report store (an in-memory one)."""
    service.reports = store_of_reports
    return service


def test_report_in_a_room_records_both_users_and_the_room(
    reporting: ChatService, notifier: RecordingNotifier, store_of_reports: RecordingReports
) -> None:
    service = reporting
    ua, ub = pair(service, "a", "b")
    rid = notifier.last("a")["roomId"]
    forged = {
        "action": "report",
        "reason": "spam",
        "userId": "u-x",
        "reported": "u-x",
        "roomId": "forged",
        "partnerId": "u-x",
        "connectionId": "zzz",
    }
    assert ws.handle_message(load_event("report", "a", forged), service) == {"statusCode": 200}
    [entry] = store_of_reports.all()
    assert (entry.reporter, entry.reported, entry.room_id) == (ua, ub, rid)
    assert entry.reason == "spam" and entry.ts_ms > 0 and entry.pool == "default"
    assert REPORT_ID.match(entry.id) and entry.id.startswith(f"{entry.ts_ms:013d}-")
    assert notifier.last("a") == {**notifier.last("a"), "type": "reported", "roomId": rid}
    # the room is untouched by a report, and Redis keeps no copy of the reason
    assert service.store.client.hgetall(service.store.keys.room(rid))["a"] == ua
    assert not service.store.client.exists(service.store.keys.reports())


def test_report_after_the_partner_left_targets_the_just_left_partner(
    reporting: ChatService, notifier: RecordingNotifier, store_of_reports: RecordingReports
) -> None:
    service = reporting
    ua, ub = pair(service, "a", "b")
    rid = notifier.last("a")["roomId"]
    service.next("b")  # b moves on; a gets partner_left
    assert notifier.last("a")["type"] == "partner_left"
    service.report("a", "rude")
    service.report("a", "rude again")  # one report per room and reporter
    assert notifier.types("a")[-2:] == ["reported", "reported"]
    [entry] = store_of_reports.all()
    assert (entry.reporter, entry.reported, entry.room_id, entry.reason) == (ua, ub, rid, "rude")
    service.report("b", "")  # b can report a too (its last partner)
    assert [(r.reporter, r.reported) for r in store_of_reports.all()] == [(ua, ub), (ub, ua)]


def test_without_a_report_store_reports_stay_in_the_capped_redis_stream(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    """No REPORTS_TABLE (a stack without DynamoDB): the old behaviour, one stream entry per
    report."""
    ua, ub = pair(service, "a", "b")
    service.report("a", "spam")
    [(_, entry)] = service.store.client.xrange(service.store.keys.reports())
    assert (entry["reporter"], entry["reported"], entry["reason"]) == (ua, ub, "spam")
    assert REPORT_ID.match(entry["id"])


def test_report_and_block_without_a_partner_are_refused(service: ChatService) -> None:
    service.connect("a", "u-a")
    service.join("a", "male", "any")
    with pytest.raises(NoPartner):
        service.report("a", "x")
    with pytest.raises(NoPartner):
        service.block("a")
    assert not service.store.client.exists(service.store.keys.reports())
    assert not service.store.client.exists(service.store.keys.blocks("u-a"))
    with pytest.raises(SessionExpired):
        service.block("nobody")


def test_block_ends_the_room_and_the_pair_never_meets_again(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    ua, ub = pair(service, "a", "b")
    rid = notifier.last("a")["roomId"]
    body = json.dumps({"action": "block", "userId": "u-zzz", "partnerId": "u-zzz"})
    assert ws.handle_message(load_event("block", "b", body), service) == {"statusCode": 200}
    k = service.store.keys
    assert service.store.client.smembers(k.blocks(ub)) == {ua}
    assert 0 < service.store.client.ttl(k.blocks(ub)) <= service.settings.block_ttl_s
    assert not service.store.client.exists(k.room(rid))
    assert notifier.last("a")["type"] == "partner_left" and notifier.last("a")["roomId"] == rid
    assert notifier.last("b")["type"] == "blocked" and notifier.last("b")["roomId"] == rid
    # Even once they are no longer recent partners, neither direction pairs them.
    service.store.client.delete(k.recent(ua), k.recent(ub))
    service.join("a", "male", "any")
    service.join("b", "female", "any")
    assert notifier.last("a")["type"] == notifier.last("b")["type"] == "queued"
    service.leave("b")
    service.join("b", "female", "any")  # the blocker waits, the blocked one joins
    service.leave("a")
    service.join("a", "male", "any")
    assert notifier.last("a")["type"] == "queued"
    # a third user is matched normally
    service.connect("c", "u-c")
    service.join("c", "female", "male")
    last = notifier.last("c")
    assert last["type"] == "matched" and last["partnerId"] == service.alias(last["roomId"], ua)


def test_block_after_leaving_blocks_the_last_partner(
    service: ChatService, notifier: RecordingNotifier
) -> None:
    ua, ub = pair(service, "a", "b")
    service.leave("a")
    service.block("a")
    assert service.store.client.smembers(service.store.keys.blocks(ua)) == {ub}
    assert notifier.last("a")["type"] == "blocked"
    assert notifier.types("b")[-1] == "partner_left"  # from the leave, not a second one
    assert notifier.types("b").count("partner_left") == 1


# -- how long a block lives (issue 13, finding 6) ----------------------------------------------


def test_an_anonymous_blockers_blocks_live_at_most_its_connection_and_go_at_disconnect(
    service: ChatService,
) -> None:
    """Before: every anonymous block made a 30-day key, ~1.3 GB/day from one process. An
    anonymous id never comes back after its connection (API Gateway ends one after 2 h)."""
    ua, _ = pair(service, "a", "b")
    service.block("a")
    r, key = service.store.client, service.store.keys.blocks(ua)
    assert 0 < r.ttl(key) <= 2 * 3600
    service.disconnect("a")
    assert not r.exists(key)


def test_a_token_users_blocks_keep_their_30_days_across_reconnects(service: ChatService) -> None:
    ua, _ = pair(service, "a", "b", token=True)
    service.block("a")
    r, key = service.store.client, service.store.keys.blocks(ua)
    assert r.ttl(key) > 29 * 24 * 3600
    service.disconnect("a")
    assert r.ttl(key) > 29 * 24 * 3600
