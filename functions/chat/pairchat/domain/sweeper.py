"""The scheduled sweeper: removes what a lost ``$disconnect`` leaves behind.

Sessions and connection keys expire by TTL on their own. What does not expire is a queue
entry (sorted-set members have no TTL) and, while the other member keeps heartbeating, a
room whose partner's session is gone. Each run therefore

* pages through every queue, interest index, the relaxation set and the online set
  (``Keys.swept()``) with ``ZSCAN`` and hands each page to ``sweep.lua``, which re-checks
  every entry atomically and removes the stale ones (the searches' rule; lapsed online
  registrations);
* pages through ``room:*`` keys with ``SCAN`` and runs ``reap.lua`` on each room, which ends
  a room one of whose members is gone; the survivor is told ``partner_left`` (when the
  Management API endpoint is configured);
* records each queue's length (``stats:depth:<minute>``, kept two hours like match.lua's
  per-minute stats): the queue-depth history the ops dashboard charts, one sample a minute.
  Nothing else writes it: the scripts would pay for it on every join, and the ops API is
  read-only;
* writes reports parked in Redis (their write to the durable report store failed) to the
  store, at most ``max_reports`` a run, oldest first (:meth:`ChatService.store_pending_reports`).

Work per run is bounded: at most ``max_queue_entries`` entries per queue and
``max_room_scan`` keys of SCAN work for rooms (``scan_count`` per call; SCAN's MATCH filters on
the server, so only room keys travel, and each one costs one ``reap.lua`` call). The cursors
are kept in Redis (``Keys.sweeper()``), so the next run resumes where this one stopped and
a full pass over any amount of data takes a bounded number of runs. Every write is checked
inside a script, so two overlapping runs are harmless.

Pools: each pool is its own slot, so each has its own sweeper (its cursors live in its own
``sweeper`` hash); :class:`PoolSweeper` runs them one after the other, so a run's work is
bounded by the number of pools times the bounds above.

Lambda entry point: :mod:`pairchat.handlers.sweeper`, on an EventBridge schedule
(template.yaml). By hand (or under ``pairchat dev``, which has no scheduler):
``pairchat sweep`` (:mod:`pairchat_tools.sweep`). Rooms are ended through
:meth:`ChatService.reap_room`, the same path the chat handlers' domain uses.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from pairchat.domain.keys import Keys
from pairchat.domain.nodes import SlotNode, as_text
from pairchat.domain.service import ChatService

ROOMS_CURSOR = "rooms"
#: How long a queue-depth sample is kept (match.lua keeps its per-minute stats as long).
DEPTH_TTL_S = 7200


@dataclass
class SweepResult:
    queue_entries_checked: int = 0
    queue_entries_removed: int = 0
    #: Lapsed online registrations removed (sessions that vanished without $disconnect).
    online_lapsed: int = 0
    rooms_checked: int = 0
    rooms_reaped: int = 0
    partners_notified: int = 0
    #: Areas (queue names, ``rooms``) whose cursor came back to 0 in this run.
    passes_completed: int = 0
    #: Queue entries left after this run (the depth sample's total).
    users_waiting: int = 0
    #: Parked reports written to the durable report store in this run.
    reports_stored: int = 0
    duration_ms: float = 0.0
    #: Per pool, when the run covered several (:class:`PoolSweeper`); the fields above are
    #: then the totals.
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sweeper:
    """One bounded pass of cleanup; ``service`` posts ``partner_left`` to survivors when its
    notifier can reach them (``announce=False`` when there is no Management API to call)."""

    def __init__(
        self,
        service: ChatService,
        announce: bool = True,
        max_queue_entries: int = 2000,
        max_room_scan: int = 50_000,
        page: int = 200,
        scan_count: int = 1000,
        max_reports: int = 100,
    ) -> None:
        self.service = service
        self.store = service.store
        #: The store's client, for the SCAN/ZSCAN paging that no script can do.
        self.client: Any = service.store.client
        self.keys: Keys = service.store.keys
        self.announce = announce
        self.max_queue_entries = max_queue_entries
        self.max_room_scan = max_room_scan
        self.page = page
        self.scan_count = scan_count
        self.max_reports = max_reports
        self.node = SlotNode(self.client, self.keys.sweeper())

    def run(self) -> SweepResult:
        start = time.perf_counter()
        result = SweepResult()
        raw = self.client.hgetall(self.keys.sweeper()) or {}
        cursors = {as_text(k): int(as_text(v)) for k, v in raw.items()}
        new_cursors: dict[str, int] = {}
        for name, key in self.keys.swept():
            cursor = self._sweep_queue(key, name, cursors.get(name, 0), result)
            new_cursors[name] = cursor
            result.passes_completed += cursor == 0
        result.users_waiting = self._record_depth()
        cursor = self._sweep_rooms(cursors.get(ROOMS_CURSOR, 0), result)
        new_cursors[ROOMS_CURSOR] = cursor
        result.passes_completed += cursor == 0
        self.client.hset(self.keys.sweeper(), mapping=new_cursors)
        result.reports_stored = self.service.store_pending_reports(self.max_reports)
        result.duration_ms = round((time.perf_counter() - start) * 1000, 3)
        self._emit(result)
        return result

    def _sweep_queue(self, key: str, name: str, cursor: int, result: SweepResult) -> int:
        seen = 0
        while True:
            cursor, entries = self.client.zscan(key, cursor, count=self.page)
            members = [as_text(member) for member, _ in entries]
            seen += len(members)
            for i in range(0, len(members), self.page):
                swept = self.store.sweep_queue(name, members[i : i + self.page])
                if key == self.keys.online():
                    result.online_lapsed += swept.removed
                    continue
                result.queue_entries_removed += swept.removed
                result.queue_entries_checked += swept.checked
            if cursor == 0 or seen >= self.max_queue_entries:
                return int(cursor)

    def _record_depth(self) -> int:
        """Samples every queue's length (after this run's removals) into this minute's
        ``stats:depth`` hash; two round trips. Returns the total."""
        queues = self.keys.all_queues()
        pipe = self.client.pipeline(transaction=False)
        for _, _, key in queues:
            pipe.zcard(key)
        lengths = pipe.execute()
        depth = {
            self.keys.queue_name(g, p): int(n) for (g, p, _), n in zip(queues, lengths, strict=True)
        }
        key = self.keys.stats_depth(self.node.time_ms() // 60000)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping=depth)
        pipe.expire(key, DEPTH_TTL_S)
        pipe.execute()
        return sum(depth.values())

    def _sweep_rooms(self, cursor: int, result: SweepResult) -> int:
        prefix = self.keys.room("")
        match = self.keys.pattern("room")
        visited = 0
        while True:
            cursor, keys = self.node.scan(cursor, self.scan_count, match=match)
            visited += self.scan_count
            for key in keys:
                if not key.startswith(prefix):
                    continue
                result.rooms_checked += 1
                reaped = self.service.reap_room(key[len(prefix) :], announce=self.announce)
                result.rooms_reaped += reaped.reaped
                result.partners_notified += reaped.told
            if cursor == 0 or visited >= self.max_room_scan:
                return cursor

    def _emit(self, result: SweepResult) -> None:
        telemetry = self.service.telemetry
        telemetry.count("SweptQueueEntries", result.queue_entries_removed)
        telemetry.count("SweptRooms", result.rooms_reaped)
        telemetry.timing("SweepDuration", result.duration_ms)


class PoolSweeper:
    """One bounded pass over every pool, one pool's :class:`Sweeper` after another."""

    def __init__(self, sweepers: dict[str, Sweeper]) -> None:
        self.sweepers = sweepers

    def run(self) -> SweepResult:
        start = time.perf_counter()
        total = SweepResult()
        for pool, sweeper in self.sweepers.items():
            result = sweeper.run()
            for f in fields(SweepResult):
                if f.name not in ("pools", "duration_ms"):
                    setattr(total, f.name, getattr(total, f.name) + getattr(result, f.name))
            total.pools[pool] = {k: v for k, v in result.as_dict().items() if k != "pools"}
        total.duration_ms = round((time.perf_counter() - start) * 1000, 3)
        return total
