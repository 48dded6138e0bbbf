"""The ops read model over every pool: one pool's numbers, or every pool's totals.

Each pool is its own hash tag, so its own slot and, in a cluster, maybe its own node: a
:class:`~pairchat_ops.readmodel.ReadModel` per pool reads it. The totals add them up with
bounded work: one read per pool for queues and match counts (at most ``MAX_POOLS``), and one
SCAN per *node* (not per pool) for the room and session counts, each key sorted into its pool
by prefix. Wait-time percentiles over every pool weight each pool's samples by its match
count, so a quiet pool does not count as much as a busy one; each pool contributes at most
``WAITS_PER_MINUTE / pools`` samples a minute (at least :data:`MIN_WAITS`), so the totals read
about as many samples as one pool does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.crc import key_slot

from pairchat.adapters.reports_table import DynamoDbReports
from pairchat.settings import Settings
from pairchat_ops.models import (
    Count,
    Health,
    Lifted,
    MinutePoint,
    Percentiles,
    PoolInfo,
    PoolSummary,
    QueueLength,
    Report,
    Reports,
    Room,
    Series,
    ShadowPage,
    Stats,
    User,
    Window,
)
from pairchat_ops.readmodel import MAX_SERIES_MINUTES, WAITS_PER_MINUTE, ReadModel

MIN_WAITS = 50

#: (match count, wait samples) of one minute of one pool, as ReadModel.minutes reads it.
Minute = tuple[int, list[float]]


class UnknownPool(LookupError):
    """A pool that is not configured (``POOLS``)."""


def weighted_summary(samples: Sequence[tuple[float, float]]) -> Percentiles:
    """Nearest-rank median and p90 of (value, weight) pairs."""
    kept = sorted((v, w) for v, w in samples if w > 0)
    total = sum(w for _, w in kept)

    def rank(fraction: float) -> float | None:
        if not kept:
            return None
        goal, seen = fraction * total, 0.0
        for value, weight in kept:
            seen += weight
            if seen >= goal - 1e-9:
                return float(value)
        return float(kept[-1][0])

    return Percentiles(samples=len(kept), median_ms=rank(0.5), p90_ms=rank(0.9))


def _weighted(minutes: Sequence[Minute], share: float = 1.0) -> tuple[list[Any], list[Any]]:
    """(every wait, waiters' waits) of some pool-minutes as (value, weight) pairs: each sample
    stands for its share of the minute's matches (two waits per match, one of a waiter)."""
    wait, waiter = [], []
    for i, (count, waits) in enumerate(minutes):
        part = share if i == 0 else 1.0
        evens = waits[0::2]
        if waits:
            wait += [(w, part * 2 * count / len(waits)) for w in waits]
        if evens:
            waiter += [(w, part * count / len(evens)) for w in evens]
    return wait, waiter


class PoolsReadModel:
    def __init__(
        self,
        client: Any,
        settings: Settings,
        scan_budget: int = 5000,
        scan_count: int = 1000,
        reports: DynamoDbReports | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.scan_budget = scan_budget
        self.scan_count = scan_count
        #: The durable report store (None: each pool's Redis stream).
        self.report_store = reports
        self.models = {
            pool: ReadModel(client, settings, scan_budget, scan_count, pool, reports)
            for pool in settings.pools
        }

    def model(self, pool: str | None = None) -> ReadModel:
        """The read model of one pool (None: the first). Raises :class:`UnknownPool`."""
        name = pool or self.settings.default_pool
        if name not in self.models:
            raise UnknownPool(name)
        return self.models[name]

    def _selected(self, pool: str | None) -> list[ReadModel]:
        return [self.model(pool)] if pool else list(self.models.values())

    # -- the pools ------------------------------------------------------------------------------

    def pools(self) -> list[PoolInfo]:
        return [
            PoolInfo(
                pool=name,
                prefix=m.keys.prefix,
                slot=key_slot(m.keys.prefix.encode()),
                node=m.node.name or None,
            )
            for name, m in self.models.items()
        ]

    def _by_node(self) -> dict[str, list[ReadModel]]:
        nodes: dict[str, list[ReadModel]] = {}
        for m in self.models.values():
            nodes.setdefault(m.node.name, []).append(m)
        return nodes

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> Health:
        """Every node that holds a pool is checked; the worst answer wins."""
        answers = [group[0].health() for group in self._by_node().values()]
        down = next((h for h in answers if h.status != "ok"), None)
        if down is not None:
            return down.model_copy(update={"nodes": len(answers)})
        scripts = {
            name: all(h.scripts.get(name, False) for h in answers) for name in answers[0].scripts
        }
        return answers[0].model_copy(
            update={
                "latency_ms": max(h.latency_ms or 0.0 for h in answers),
                "scripts": scripts,
                "scripts_loaded": bool(scripts) and all(scripts.values()),
                "nodes": len(answers),
            }
        )

    # -- stats ----------------------------------------------------------------------------------

    def census(self, scan_budget: int | None = None) -> tuple[dict[str, tuple[Count, Count]], int]:
        """(rooms, sessions) of every pool, from one bounded SCAN per node; and the keys
        visited in all."""
        budget = scan_budget or self.scan_budget
        out: dict[str, tuple[Count, Count]] = {}
        visited = 0
        for models in self._by_node().values():
            prefixes = [(m.pool, m.keys.room(""), m.keys.session("")) for m in models]
            rooms = dict.fromkeys((m.pool for m in models), 0)
            sessions = dict(rooms)
            node = models[0].node
            cursor, seen = 0, 0
            while True:
                cursor, batch = node.scan(cursor, min(self.scan_count, budget))
                seen += len(batch)
                for key in batch:
                    for pool, room_prefix, sess_prefix in prefixes:
                        if key.startswith(sess_prefix):
                            sessions[pool] += 1
                            break
                        if key.startswith(room_prefix):
                            rooms[pool] += 1
                            break
                if cursor == 0 or seen >= budget:
                    break
            visited += seen
            exact = cursor == 0
            scale = 1.0 if exact else max(node.dbsize(), seen) / max(seen, 1)
            for pool in rooms:
                out[pool] = (
                    Count(value=round(rooms[pool] * scale), exact=exact, sampled_keys=seen),
                    Count(value=round(sessions[pool] * scale), exact=exact, sampled_keys=seen),
                )
        return out, visited

    def queue_lengths(self, pool: str | None = None) -> list[QueueLength]:
        totals: dict[str, QueueLength] = {}
        for m in self._selected(pool):
            for q in m.queue_lengths():
                seen = totals.get(q.name)
                totals[q.name] = (
                    q
                    if seen is None
                    else seen.model_copy(update={"length": seen.length + q.length})
                )
        return list(totals.values())

    def _per_pool_waits(self) -> int:
        return max(MIN_WAITS, WAITS_PER_MINUTE // len(self.models))

    def stats(self, pool: str | None = None, scan_budget: int | None = None) -> Stats:
        if pool is not None:
            return self.model(pool).stats(scan_budget)
        census, visited = self.census(scan_budget)
        first = next(iter(self.models.values()))
        now = first.node.time_ms()
        minute, elapsed = now // 60000, (now % 60000) / 60000
        per_pool = self._per_pool_waits()
        summaries, hour_counts, minute_counts = [], 0.0, 0.0
        wait_m: list[Any] = []
        waiter_m: list[Any] = []
        wait_h: list[Any] = []
        waiter_h: list[Any] = []
        queues = self.queue_lengths()
        for name, m in self.models.items():
            buckets = m.minutes(minute - 60, minute, per_pool)
            counts = [c for c, _ in buckets]
            last_minute = counts[-1] + counts[-2] * (1 - elapsed)
            last_hour = sum(counts[1:]) + counts[0] * (1 - elapsed)
            minute_counts += last_minute
            hour_counts += last_hour
            w, ww = _weighted(buckets[-2:], 1 - elapsed)
            wait_m += w
            waiter_m += ww
            w, ww = _weighted(buckets, 1 - elapsed)
            wait_h += w
            waiter_h += ww
            rooms, sessions = census[name]
            summaries.append(
                PoolSummary(
                    pool=name,
                    users_waiting=sum(q.length for q in m.queue_lengths()),
                    active_rooms=rooms,
                    live_sessions=sessions,
                    matches_last_minute=round(last_minute),
                    matches_last_hour=round(last_hour),
                    waiter_wait_last_hour=weighted_summary(ww),
                    shadowed=m.shadow.count(now),
                )
            )
        rooms_all = [census[p][0] for p in self.models]
        sessions_all = [census[p][1] for p in self.models]
        return Stats(
            pool=None,
            time_ms=now,
            queues=queues,
            users_waiting=sum(q.length for q in queues),
            active_rooms=_sum(rooms_all, visited),
            live_sessions=_sum(sessions_all, visited),
            last_minute=Window(
                matches=round(minute_counts),
                wait=weighted_summary(wait_m),
                waiter_wait=weighted_summary(waiter_m),
            ),
            last_hour=Window(
                matches=round(hour_counts),
                wait=weighted_summary(wait_h),
                waiter_wait=weighted_summary(waiter_h),
            ),
            shadowed=sum(s.shadowed for s in summaries),
            pools=summaries,
        )

    def series(self, pool: str | None = None, minutes: int = 30) -> Series:
        if pool is not None:
            return self.model(pool).series(minutes)
        minutes = max(1, min(minutes, MAX_SERIES_MINUTES))
        now = next(iter(self.models.values())).node.time_ms()
        current = now // 60000
        first = current - minutes + 1
        per_pool = self._per_pool_waits()
        columns = [m.minutes(first, current, per_pool) for m in self.models.values()]
        depth_columns = [m.depths(first, current) for m in self.models.values()]
        points = []
        for i, m in enumerate(range(first, current + 1)):
            cells = [column[i] for column in columns]
            wait, waiter = _weighted(cells)
            depth = _summed([column[i] for column in depth_columns])
            points.append(
                MinutePoint(
                    minute=m,
                    ts_ms=m * 60000,
                    matches=sum(c for c, _ in cells),
                    wait=weighted_summary(wait),
                    waiter_wait=weighted_summary(waiter),
                    depth=depth,
                    waiting=None if depth is None else sum(depth.values()),
                )
            )
        return Series(pool=None, time_ms=now, minutes=points)

    # -- rooms, users, reports ------------------------------------------------------------------

    def room(self, room_id: str, pool: str | None = None) -> Room | None:
        """A room of ``pool``, or of whichever pool has it (one lookup per pool at most)."""
        for m in self._selected(pool):
            found = m.room(room_id)
            if found is not None:
                return found
        return None

    def user(self, user_id: str, pool: str | None = None) -> User | None:
        """A user in ``pool``; without one, in the first pool that knows the id, with the
        others listed (a token user keeps one id in every pool)."""
        if pool is not None:
            return self.model(pool).user(user_id)
        found = [u for u in (m.user(user_id) for m in self.models.values()) if u is not None]
        if not found:
            return None
        live = sorted(found, key=lambda u: u.session is None)  # a live session first
        return live[0].model_copy(update={"other_pools": [u.pool for u in live[1:]]})

    def reports(
        self, before: str | None = None, limit: int = 50, pool: str | None = None
    ) -> Reports:
        """Newest first across the pools (each page merges a page of each). Report ids of
        the durable store sort by time as strings and differ between pools. Ids of the Redis
        streams (no store) are Redis times, so two pools can hold the same id: a page never
        ends between reports of one id (it takes them all), so ``before=<last id>`` skips
        none; reports of one millisecond in different pools come in pool order."""
        models = self._selected(pool)
        pages = [m.reports(before, limit) for m in models]
        order = {m.pool: i for i, m in enumerate(models)}

        def newest(r: Report) -> tuple[Any, int]:
            when = r.id if self.report_store is not None else _stream_id(r.id)
            return (when, -order[r.pool])

        merged = sorted((r for page in pages for r in page.reports), key=newest, reverse=True)
        page = merged[:limit]
        while page and len(page) < len(merged) and merged[len(page)].id == page[-1].id:
            page.append(merged[len(page)])
        more = len(merged) > len(page) or any(p.next_before for p in pages)
        totals = [p.total for p in pages]
        return Reports(
            total=None if None in totals else sum(t or 0 for t in totals),
            reports=page,
            next_before=page[-1].id if more and page else None,
            pending=sum(p.pending for p in pages),
        )

    # -- the shadow pool ------------------------------------------------------------------------

    def shadowed(self, pool: str | None = None, offset: int = 0, limit: int = 50) -> ShadowPage:
        """One pool's shadowed users (None: the first pool): a page is one pool's."""
        return self.model(pool).shadowed(offset, limit)

    def lift(self, user_id: str, pool: str | None = None) -> Lifted:
        """Lifts ``user_id``'s shadow flag in ``pool``, or in every pool (a token user keeps
        its id in every pool, and each pool counts its own reports)."""
        lifted = [m.pool for m in self._selected(pool) if m.shadow.lift(user_id)]
        return Lifted(user_id=user_id, pools=lifted)


def _sum(counts: list[Count], visited: int) -> Count:
    return Count(
        value=sum(c.value for c in counts), exact=all(c.exact for c in counts), sampled_keys=visited
    )


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _summed(samples: list[dict[str, int] | None]) -> dict[str, int] | None:
    """Every pool's queue-depth sample of one minute added up per queue name (None when no
    pool's sweeper sampled that minute)."""
    present = [d for d in samples if d]
    if not present:
        return None
    total: dict[str, int] = {}
    for d in present:
        for name, n in d.items():
            total[name] = total.get(name, 0) + n
    return total
