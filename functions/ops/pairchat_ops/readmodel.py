"""What the ops API and ``pairchat inspect`` know about Redis, read with bounded work.

Over 400 lines on purpose: one read model per pool, each query bounded next to the others
so their budgets can be compared; the per-pool aggregation lives with it.

Every answer costs a fixed number of round trips and a bounded number of keys, whatever the
size of the data: queues are read by rank windows (``ZRANGE`` with a limit), recent partners
with one ``SSCAN`` page, reports with one DynamoDB ``Query`` of a page (or, with no durable
store configured, ``XREVRANGE ... COUNT``), the shadowed users by a score range with a limit,
and key counts with a SCAN of at most ``scan_budget`` keys. Nothing here writes (lifting a
shadow flag is :class:`~pairchat.domain.shadow.ShadowPool`'s) and nothing calls ``KEYS``.

Counting rooms and sessions: both expire by TTL, which no script sees, so a counter kept by
the scripts would drift upward forever. Instead one bounded SCAN samples the keyspace of the
node that holds pairchat's slot: when it completes within the budget the count is exact,
otherwise it is the sampled fraction scaled by ``DBSIZE`` (SCAN visits hash buckets, so the
sample is spread evenly over the keys) and reported with ``exact: false``.

Cluster mode: every key of a pool shares the pool's hash tag, so a pool lives on one node.
:class:`SlotNode` sends the node-level commands (SCAN, DBSIZE, TIME, SCRIPT EXISTS) there;
key commands route themselves. One :class:`ReadModel` reads one pool;
:mod:`pairchat_ops.pools` answers for every pool at once (the totals).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from pairchat.adapters.reports_table import DynamoDbReports
from pairchat.domain.keys import Keys
from pairchat.domain.nodes import SlotNode, as_text
from pairchat.domain.scripts import SCRIPT_NAMES, source
from pairchat.domain.shadow import ShadowPool
from pairchat.settings import Settings
from pairchat_ops.models import (
    Count,
    Health,
    MinutePoint,
    Percentiles,
    QueueEntry,
    QueueLength,
    QueuePage,
    Report,
    Reports,
    Room,
    Series,
    Session,
    ShadowedUser,
    ShadowPage,
    Stats,
    User,
    Waiter,
    Window,
)
from pairchat_ops.models import Member as RoomMember

#: Scripts whose presence /health reports (the sweeper's included).
HEALTH_SCRIPTS = (*SCRIPT_NAMES, "sweep")
#: At most this many wait samples are read per minute bucket (match.lua caps them at 2000).
#: Even: match.lua pushes (waiter's wait, joiner's 0) pairs, so even indices are waiters.
WAITS_PER_MINUTE = 500
MAX_PAGE = 200
MAX_SERIES_MINUTES = 120
#: The most SCAN work one /stats may ask for (``?sample=``).
MAX_SCAN_BUDGET = 100_000


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(float(as_text(value)))
    except ValueError:
        return None


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[rank - 1])


def summarize(values: list[float]) -> Percentiles:
    values = sorted(values)
    return Percentiles(
        samples=len(values), median_ms=percentile(values, 0.5), p90_ms=percentile(values, 0.9)
    )


def window(matches: float, waits: list[list[float]]) -> Window:
    """A window's numbers from its buckets' wait lists of (waiter, joiner) pairs."""
    return Window(
        matches=round(matches),
        wait=summarize([w for ws in waits for w in ws]),
        waiter_wait=summarize([w for ws in waits for w in ws[0::2]]),
    )


class ReadModel:
    def __init__(
        self,
        client: Any,
        settings: Settings,
        scan_budget: int = 5000,
        scan_count: int = 1000,
        pool: str | None = None,
        reports: DynamoDbReports | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.pool = pool or settings.default_pool
        self.keys = Keys(settings.prefix_for(self.pool))
        self.node = SlotNode(client, self.keys.reports())
        self.scan_budget = scan_budget
        self.scan_count = scan_count
        #: The durable report store; None: reports are read from the Redis stream.
        self.report_store = reports
        self.shadow = ShadowPool(client, self.keys, settings.shadow_window_s * 1000)

    # -- health -------------------------------------------------------------------------------

    def health(self) -> Health:
        try:
            latency = self.node.ping_ms()
        except Exception as exc:  # reported, not raised: health must answer
            return Health(status="down", redis=False, error=f"{type(exc).__name__}: {exc}")
        version: str | None = None
        scripts: dict[str, bool] = {}
        # Best effort past PING: an emulator (fakeredis) may lack INFO or SCRIPT EXISTS.
        with contextlib.suppress(RedisError):
            raw = self.node.info_server().get("redis_version")
            version = None if raw is None else str(raw)
        with contextlib.suppress(RedisError):
            texts = [source(n, self.node.cluster) for n in HEALTH_SCRIPTS]
            shas = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
            scripts = dict(zip(HEALTH_SCRIPTS, self.node.script_exists(shas), strict=True))
        return Health(
            status="ok",
            redis=True,
            latency_ms=round(latency, 3),
            redis_version=version,
            scripts=scripts,
            scripts_loaded=bool(scripts) and all(scripts.values()),
        )

    # -- stats --------------------------------------------------------------------------------

    def queue_lengths(self) -> list[QueueLength]:
        pipe = self.client.pipeline(transaction=False)
        queues = self.keys.all_queues()
        for _, _, key in queues:
            pipe.zcard(key)
        lengths = pipe.execute()
        return [
            QueueLength(gender=g, preference=p, name=self.keys.queue_name(g, p), length=int(n))
            for (g, p, _), n in zip(queues, lengths, strict=True)
        ]

    def census(self, scan_budget: int | None = None) -> tuple[Count, Count]:
        """(active rooms, live sessions) from one SCAN of at most ``scan_budget`` keys."""
        budget = scan_budget or self.scan_budget
        room_prefix, sess_prefix = self.keys.room(""), self.keys.session("")
        cursor, seen, rooms, sessions = 0, 0, 0, 0
        while True:
            cursor, batch = self.node.scan(cursor, min(self.scan_count, budget))
            seen += len(batch)
            for key in batch:
                if key.startswith(sess_prefix):
                    sessions += 1
                elif key.startswith(room_prefix):
                    rooms += 1
            if cursor == 0 or seen >= budget:
                break
        if cursor == 0:
            return (
                Count(value=rooms, exact=True, sampled_keys=seen),
                Count(value=sessions, exact=True, sampled_keys=seen),
            )
        total = max(self.node.dbsize(), seen)
        scale = total / seen
        return (
            Count(value=round(rooms * scale), exact=False, sampled_keys=seen),
            Count(value=round(sessions * scale), exact=False, sampled_keys=seen),
        )

    def minutes(
        self, first: int, last: int, waits_per_minute: int = WAITS_PER_MINUTE
    ) -> list[tuple[int, list[float]]]:
        """(match count, wait samples) of each epoch minute in [first, last], two commands each."""
        pipe = self.client.pipeline(transaction=False)
        minutes = range(first, last + 1)
        for m in minutes:
            pipe.get(self.keys.stats_matches(m))
            pipe.lrange(self.keys.stats_waits(m), 0, waits_per_minute - 1)
        raw = pipe.execute()
        out: list[tuple[int, list[float]]] = []
        for i in range(len(minutes)):
            count = _int_or_none(raw[2 * i]) or 0
            waits = [float(as_text(w)) for w in raw[2 * i + 1]]
            out.append((count, waits))
        return out

    def stats(
        self, scan_budget: int | None = None, census: tuple[Count, Count] | None = None
    ) -> Stats:
        """``census``: (rooms, sessions) already counted (the totals count every pool of a
        node in one SCAN, :mod:`pairchat_ops.pools`)."""
        now = self.node.time_ms()
        queues = self.queue_lengths()
        rooms, sessions = census or self.census(scan_budget)
        minute = now // 60000
        # Sliding windows over the per-minute buckets: the current bucket counts fully, the
        # oldest bucket in proportion to how much of it is still inside the window.
        elapsed = (now % 60000) / 60000
        buckets = self.minutes(minute - 60, minute, WAITS_PER_MINUTE)
        counts = [c for c, _ in buckets]
        last_minute = counts[-1] + counts[-2] * (1 - elapsed)
        last_hour = sum(counts[1:]) + counts[0] * (1 - elapsed)
        waits = [ws for _, ws in buckets]
        return Stats(
            pool=self.pool,
            time_ms=now,
            queues=queues,
            users_waiting=sum(q.length for q in queues),
            active_rooms=rooms,
            live_sessions=sessions,
            last_minute=window(last_minute, waits[-2:]),
            last_hour=window(last_hour, waits),
            shadowed=self.shadow.count(now),
        )

    def depths(self, first: int, last: int) -> list[dict[str, int] | None]:
        """Each epoch minute's queue-depth sample in [first, last] (the sweeper's; None for a
        minute without one), one command each."""
        pipe = self.client.pipeline(transaction=False)
        for m in range(first, last + 1):
            pipe.hgetall(self.keys.stats_depth(m))
        return [
            {as_text(k): int(as_text(v)) for k, v in raw.items()} or None for raw in pipe.execute()
        ]

    def series(self, minutes: int = 30) -> Series:
        """Matches, wait percentiles and queue depth per minute, oldest first, the current
        minute last (one more command per minute than :meth:`stats` reads)."""
        minutes = max(1, min(minutes, MAX_SERIES_MINUTES))
        now = self.node.time_ms()
        current = now // 60000
        first = current - minutes + 1
        depths = self.depths(first, current)
        points = [
            MinutePoint(
                minute=m,
                ts_ms=m * 60000,
                matches=count,
                wait=summarize(waits),
                waiter_wait=summarize(waits[0::2]),
                depth=depth,
                waiting=None if depth is None else sum(depth.values()),
            )
            for m, (count, waits), depth in zip(
                range(first, current + 1),
                self.minutes(first, current, WAITS_PER_MINUTE),
                depths,
                strict=True,
            )
        ]
        return Series(pool=self.pool, time_ms=now, minutes=points)

    # -- queues -------------------------------------------------------------------------------

    def queue(self, gender: str, preference: str, offset: int = 0, limit: int = 50) -> QueuePage:
        """One page of a queue, oldest first, each waiter checked against its session."""
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        key = self.keys.queue(gender, preference)
        name = self.keys.queue_name(gender, preference)
        now = self.node.time_ms()
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(key)
        pipe.zrange(key, offset, offset + limit - 1, withscores=True)
        length, entries = pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for member, _ in entries:
            pipe.hmget(self.keys.session(as_text(member)), "conn", "q", "room")
        sessions = pipe.execute() if entries else []
        waiters = []
        for i, ((member, score), sess) in enumerate(zip(entries, sessions, strict=True)):
            conn, q, room = (None if v is None else as_text(v) for v in sess)
            waiters.append(
                Waiter(
                    user_id=as_text(member),
                    position=offset + i,
                    enqueued_ms=int(score),
                    waited_ms=max(0, now - int(score)),
                    stale=conn is None or q != name or room is not None,
                )
            )
        end = offset + len(entries)
        return QueuePage(
            pool=self.pool,
            gender=gender,
            preference=preference,
            name=name,
            length=int(length),
            offset=offset,
            limit=limit,
            next_offset=end if end < int(length) else None,
            waiters=waiters,
        )

    # -- rooms and users ----------------------------------------------------------------------

    def room(self, room_id: str, now: int | None = None) -> Room | None:
        key = self.keys.room(room_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(key)
        pipe.ttl(key)
        fields, ttl = pipe.execute()
        if not fields:
            return None
        fields = {as_text(k): as_text(v) for k, v in fields.items()}
        now = self.node.time_ms() if now is None else now
        pipe = self.client.pipeline(transaction=False)
        roles = [r for r in ("a", "b") if fields.get(r)]
        for role in roles:
            pipe.hmget(self.keys.session(fields[role]), "conn", "room")
        members = []
        for role, (conn, room) in zip(roles, pipe.execute() if roles else [], strict=True):
            members.append(
                RoomMember(
                    user_id=fields[role],
                    role=role,  # type: ignore[arg-type]
                    connection_id=None if conn is None else as_text(conn),
                    in_room=room is not None and as_text(room) == room_id,
                )
            )
        created = _int_or_none(fields.get("ts"))
        return Room(
            pool=self.pool,
            room_id=room_id,
            members=members,
            created_ms=created,
            age_ms=None if created is None else max(0, now - created),
            ttl_s=int(ttl) if int(ttl) >= 0 else None,
        )

    def user(self, user_id: str, recent_limit: int = 100) -> User | None:
        sk, rk = self.keys.session(user_id), self.keys.recent(user_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(sk)
        pipe.pttl(sk)
        pipe.sscan(rk, 0, count=recent_limit)
        pipe.scard(rk)
        pipe.ttl(rk)
        pipe.scard(self.keys.blocks(user_id))
        fields, pttl, (_, recent), recent_total, recent_ttl, blocked = pipe.execute()
        if not fields and not recent_total and not blocked:
            return None
        now = self.node.time_ms()
        fields = {as_text(k): as_text(v) for k, v in (fields or {}).items()}
        session = room = entry = None
        if fields:
            conn = fields.get("conn")
            owner = self.client.get(self.keys.connection(conn)) if conn else None
            session = Session(
                connection_id=conn,
                connection_live=owner is not None and as_text(owner) == user_id,
                gender=fields.get("g"),
                preference=fields.get("p"),
                since_ms=_int_or_none(fields.get("since")),
                ttl_ms=int(pttl) if int(pttl) >= 0 else None,
                room_id=fields.get("room"),
                queue=fields.get("q"),
            )
            if session.room_id:
                room = self.room(session.room_id, now)
            if session.queue:
                entry = self._queue_entry(session.queue, user_id, now)
        return User(
            pool=self.pool,
            user_id=user_id,
            session=session,
            room=room,
            queue_entry=entry,
            recent_partners=sorted(as_text(m) for m in recent)[:recent_limit],
            recent_partners_total=int(recent_total),
            recent_ttl_s=int(recent_ttl) if int(recent_ttl) >= 0 else None,
            blocked=int(blocked),
        )

    def _queue_entry(self, queue_name: str, user_id: str, now: int) -> QueueEntry | None:
        key = self.keys.prefix + queue_name
        pipe = self.client.pipeline(transaction=False)
        pipe.zscore(key, user_id)
        pipe.zrank(key, user_id)
        score, rank = pipe.execute()
        if score is None or rank is None:
            return None
        return QueueEntry(
            name=queue_name,
            position=int(rank),
            enqueued_ms=int(score),
            waited_ms=max(0, now - int(score)),
        )

    # -- reports ------------------------------------------------------------------------------

    def shadowed(self, offset: int = 0, limit: int = 50) -> ShadowPage:
        """The shadowed users of this pool, the latest-flagged first, a page at a time."""
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        total, users = self.shadow.page(self.node.time_ms(), offset, limit)
        end = offset + limit
        return ShadowPage(
            pool=self.pool,
            total=total,
            offset=offset,
            limit=limit,
            next_offset=end if end < total else None,
            users=[ShadowedUser(**vars(u)) for u in users],
        )

    def reports(self, before: str | None = None, limit: int = 50) -> Reports:
        """Newest first; ``before`` is the id of the last report of the previous page. From
        the durable store when one is configured (one ``Query``), else the Redis stream."""
        limit = max(1, min(limit, MAX_PAGE))
        if self.report_store is not None:
            records, more = self.report_store.page(self.pool, before, limit)
            reports = [
                Report(
                    pool=self.pool,
                    id=r.id,
                    reporter=r.reporter,
                    reported=r.reported,
                    room_id=r.room_id,
                    reason=r.reason,
                    ts=r.ts_ms,
                )
                for r in records
            ]
            return Reports(
                total=None,
                reports=reports,
                next_before=reports[-1].id if more and reports else None,
                pending=int(self.client.xlen(self.keys.reports())),
            )
        key = self.keys.reports()
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(key)
        pipe.xrevrange(key, max=f"({before}" if before else "+", min="-", count=limit + 1)
        total, entries = pipe.execute()
        page = entries[:limit]
        reports = []
        for entry_id, raw in page:
            f = {as_text(k): as_text(v) for k, v in raw.items()}
            reports.append(
                Report(
                    pool=self.pool,
                    id=as_text(entry_id),
                    reporter=f.get("reporter"),
                    reported=f.get("reported"),
                    room_id=f.get("roomId"),
                    reason=f.get("reason"),
                    ts=_int_or_none(f.get("ts")),
                )
            )
        more = len(entries) > limit
        return Reports(
            total=int(total), reports=reports, next_before=reports[-1].id if more else None
        )
