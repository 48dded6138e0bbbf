"""An accepted abuse report, as the durable report store keeps it.

lua/report.lua decides whether a report is accepted (quotas, the room's age, one per room and
reporter); the service then hands the :class:`ReportRecord` to a
:class:`~pairchat.domain.ports.ReportSink` (DynamoDB in AWS). Spam cannot trim that store, as
it could the old capped Redis stream (issue 13, item 5).

Nothing in a record identifies an account beyond the internal user ids the ops API already
shows; the reason is the reporter's own words: stored, never logged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from pairchat.domain.keys import Keys
from pairchat.domain.nodes import as_text

#: A report id: the time it was accepted (ms, 13 digits) and 16 hex characters that follow
#: from the room and the reporter. Sorting ids sorts reports by time; the same report written
#: twice (a retry after a timeout that did succeed) has the same id, so it is one item.
REPORT_ID: Final = re.compile(r"^\d{13}-[0-9a-f]{16}$")


def report_id(ts_ms: int, room_id: str, reporter: str) -> str:
    digest = hashlib.sha256(f"{room_id}\x00{reporter}".encode()).hexdigest()[:16]
    return f"{ts_ms:013d}-{digest}"


@dataclass(frozen=True)
class ReportRecord:
    pool: str
    id: str
    reporter: str
    reported: str
    room_id: str
    reason: str
    #: When it was accepted: Redis time, ms.
    ts_ms: int

    @classmethod
    def new(
        cls, pool: str, ts_ms: int, reporter: str, reported: str, room_id: str, reason: str
    ) -> ReportRecord:
        return cls(
            pool, report_id(ts_ms, room_id, reporter), reporter, reported, room_id, reason, ts_ms
        )

    def fields(self) -> dict[str, str]:
        """The Redis stream entry's fields (the stream of reports not yet stored)."""
        return {
            "id": self.id,
            "reporter": self.reporter,
            "reported": self.reported,
            "roomId": self.room_id,
            "reason": self.reason,
            "ts": str(self.ts_ms),
        }

    @classmethod
    def from_fields(cls, pool: str, fields: dict[str, str]) -> ReportRecord:
        ts = int(fields.get("ts") or 0)
        room, reporter = fields.get("roomId", ""), fields.get("reporter", "")
        return cls(
            pool,
            fields.get("id") or report_id(ts, room, reporter),
            reporter,
            fields.get("reported", ""),
            room,
            fields.get("reason", ""),
            ts,
        )


class PendingReports:
    """The Redis stream of accepted reports not in the durable store: a write that failed
    (after the sink's retries) waits here until the sweeper moves it
    (``ChatService.store_pending_reports``); with no store configured, reports stay here,
    capped near ``cap`` (the old behaviour, for tests and stacks without DynamoDB). Plain
    stream commands on the pool's slot, not a script: nothing here must be atomic with
    anything else."""

    def __init__(self, client: Any, keys: Keys, pool: str, cap: int) -> None:
        self.client = client
        self.key = keys.reports()
        self.pool = pool
        self.cap = cap

    def park(self, report: ReportRecord) -> None:
        self.client.xadd(self.key, report.fields(), maxlen=self.cap, approximate=True)

    def __len__(self) -> int:
        return int(self.client.xlen(self.key))

    def oldest(self, count: int) -> list[tuple[str, ReportRecord]]:
        """Up to ``count`` parked reports, oldest first, with their stream entry ids."""
        entries = self.client.xrange(self.key, "-", "+", count=count)
        return [
            (as_text(entry_id), ReportRecord.from_fields(self.pool, _text_fields(raw)))
            for entry_id, raw in entries
        ]

    def remove(self, entry_id: str) -> None:
        self.client.xdel(self.key, entry_id)


def _text_fields(raw: Any) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in dict(raw).items()}
