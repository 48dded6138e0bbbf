"""An accepted report reaches the durable report store; when the store fails it waits in
Redis and the sweeper writes it later. The reason is stored, never logged."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import redis

from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.domain.sweeper import Sweeper
from pairchat.settings import Settings
from tests.conftest import RecordingNotifier, RecordingReports
from tests.integration.domain.test_sweeper import RecordingTelemetry
from tests.support import pair

pytestmark = pytest.mark.integration

REASON = "the words of the reporter, kept out of every log"


@pytest.fixture
def telemetry() -> RecordingTelemetry:
    return RecordingTelemetry()


@pytest.fixture
def sink() -> RecordingReports:
    return RecordingReports()


@pytest.fixture
def svc(
    redis_client: redis.Redis,
    settings: Settings,
    notifier: RecordingNotifier,
    telemetry: RecordingTelemetry,
    sink: RecordingReports,
) -> ChatService:
    # Not shadowing: the tests have one user reported by many, who must keep meeting them.
    s = replace(settings, shadow_reporters=0)
    return ChatService(ChatStore(redis_client, s), notifier, s, telemetry, reports=sink)


def test_a_report_the_store_refuses_is_parked_then_stored_by_the_sweeper(
    svc: ChatService,
    sink: RecordingReports,
    notifier: RecordingNotifier,
    telemetry: RecordingTelemetry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ua, ub = pair(svc, "a", "b")
    sink.failing = True
    with caplog.at_level(logging.DEBUG):
        svc.report("a", REASON)
    assert notifier.last("a")["type"] == "reported"  # the quota is spent, the report kept
    assert telemetry.counts["ReportStoreFailures"] == 1 and telemetry.counts["Reports"] == 1
    assert len(svc.pending) == 1
    [(_, parked)] = svc.pending.oldest(10)
    assert (parked.reporter, parked.reported, parked.reason) == (ua, ub, REASON)
    logged = caplog.text
    assert "parked" in logged
    assert REASON not in logged and ua not in logged and ub not in logged
    # The sweeper's run while the store is still down moves nothing and loses nothing.
    sweeper = Sweeper(svc, announce=False)
    assert sweeper.run().reports_stored == 0 and len(svc.pending) == 1
    sink.failing = False
    assert sweeper.run().reports_stored == 1
    assert len(svc.pending) == 0
    assert [r.reason for r in sink.all()] == [REASON] and sink.all()[0].id == parked.id
    assert telemetry.counts["ReportsUnparked"] == 1


def test_the_sweeper_moves_a_bounded_number_oldest_first(
    svc: ChatService, sink: RecordingReports
) -> None:
    sink.failing = True
    svc.connect("t", "u-t")
    svc.join("t", "male", "any")
    for i in range(5):
        if i:
            svc.next("t")
        svc.connect(f"r{i}", f"u-r{i}")
        svc.join(f"r{i}", "female", "any")
        svc.report(f"r{i}", f"reason {i}")
    assert len(svc.pending) == 5
    sink.failing = False
    assert svc.store_pending_reports(limit=2) == 2
    assert [r.reason for r in sink.all()] == ["reason 0", "reason 1"]
    assert Sweeper(svc, announce=False, max_reports=100).run().reports_stored == 3
    assert [r.reason for r in sink.all()] == [f"reason {i}" for i in range(5)]


def test_a_report_written_twice_is_one_item(svc: ChatService, sink: RecordingReports) -> None:
    """A sweeper run that overlaps another (or a retried put after a timeout that did succeed)
    writes the same report again: it keeps its id, so the store holds it once."""
    pair(svc, "a", "b")
    sink.failing = True
    svc.report("a", "once")
    [(_, parked)] = svc.pending.oldest(1)
    sink.failing = False
    sink.put(parked)
    svc.store_pending_reports()
    assert len(sink.all()) == 1 and sink.attempts == 3
