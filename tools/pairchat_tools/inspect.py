"""``pairchat inspect``: the ops API's answers as tables, straight from a Redis URL.

    pairchat inspect stats | health | pools | queue G P | room ID | user ID | reports | shadow
                     [--pool NAME] [--redis-url URL] [--cluster] [--prefix P] [--json]

It reads through the same :class:`~pairchat_ops.pools.PoolsReadModel` as the HTTP API, so the
numbers match; it never writes. ``--pool`` narrows a view to one pool (``POOLS``); without it
``stats``, ``reports`` and the lookups cover every pool, and ``queue`` and ``shadow`` show the
first pool. Reports come from the durable report store when ``REPORTS_TABLE`` is set (or the
dev stack has one), else from Redis. Lifting a shadow flag is the ops API's
``DELETE /shadow/{user_id}``.
Exit status: 0, 1 when the room, user or pool does not exist, 2 when Redis cannot be reached.

Without ``--redis-url`` or ``REDIS_URL`` it reads the running ``pairchat dev`` stack's Redis
(:mod:`pairchat_tools.cliargs`); the first line on stderr says which Redis it reads.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from pairchat.bootstrap import redis_client, report_store
from pairchat.domain.keys import GENDERS, PREFERENCES
from pairchat_ops.models import (
    Count,
    Health,
    Percentiles,
    PoolInfo,
    QueuePage,
    Reports,
    Room,
    ShadowPage,
    Stats,
    User,
)
from pairchat_ops.pools import PoolsReadModel, UnknownPool
from pairchat_ops.readmodel import MAX_PAGE
from pairchat_tools.cliargs import add_redis_arguments, settings_from_args
from pairchat_tools.devstate import redact


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    add_redis_arguments(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    common.add_argument("--pool", help="one pool (POOLS); default: every pool")
    views = parser.add_subparsers(dest="view", required=True, metavar="VIEW")
    views.add_parser("stats", parents=[common], help="queues, counts, matches, waits")
    views.add_parser("health", parents=[common], help="Redis latency and cached scripts")
    views.add_parser("pools", parents=[common], help="the pools, their prefixes and slots")
    queue = views.add_parser("queue", parents=[common], help="one queue's waiters, oldest first")
    queue.add_argument("gender", choices=GENDERS)
    queue.add_argument("preference", choices=PREFERENCES)
    queue.add_argument("--offset", type=int, default=0)
    queue.add_argument("--limit", type=int, default=20, help=f"at most {MAX_PAGE}")
    room = views.add_parser("room", parents=[common], help="a room's members, age and TTL")
    room.add_argument("room_id", metavar="ID")
    user = views.add_parser("user", parents=[common], help="a user's session, room, queue")
    user.add_argument("user_id", metavar="ID")
    reports = views.add_parser("reports", parents=[common], help="abuse reports, newest first")
    reports.add_argument("--before", help="id of the last report of the previous page")
    reports.add_argument("--limit", type=int, default=20)
    shadow = views.add_parser(
        "shadow", parents=[common], help="shadowed users (reported by several people)"
    )
    shadow.add_argument("--offset", type=int, default=0)
    shadow.add_argument("--limit", type=int, default=20, help=f"at most {MAX_PAGE}")


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    console = Console()
    model = PoolsReadModel(redis_client(settings), settings, reports=report_store(settings))
    try:
        result = _query(model, args)
    except UnknownPool as exc:
        Console(stderr=True).print(f"no such pool: {exc} (POOLS is {','.join(settings.pools)})")
        return 1
    except RedisError as exc:
        Console(stderr=True).print(
            f"[red]redis unavailable[/red] at {redact(settings.redis_url)}: {exc}"
        )
        return 2
    if result is None:
        Console(stderr=True).print(f"no such {args.view}")
        return 1
    if isinstance(result, list):
        if args.json:
            console.print_json(data=[p.model_dump() for p in result])
        else:
            render_pools(console, result)
        return 0
    if args.json:
        console.print_json(result.model_dump_json())
        return 0
    RENDERERS[type(result)](console, result)
    return 0 if not isinstance(result, Health) or result.redis else 2


def _query(model: PoolsReadModel, args: argparse.Namespace) -> BaseModel | list[PoolInfo] | None:
    view, pool = args.view, args.pool
    if view == "stats":
        return model.stats(pool)
    if view == "health":
        return model.health()
    if view == "pools":
        return model.pools()
    if view == "queue":
        return model.model(pool).queue(args.gender, args.preference, args.offset, args.limit)
    if view == "room":
        return model.room(args.room_id, pool)
    if view == "user":
        return model.user(args.user_id, pool)
    if view == "reports":
        return model.reports(args.before, args.limit, pool)
    if view == "shadow":
        return model.shadowed(pool, args.offset, args.limit)
    raise ValueError(view)


# -- rendering ------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    return f"{value / 60_000:.1f} min"


def _count(c: Count) -> str:
    return str(c.value) if c.exact else f"~{c.value} (sampled {c.sampled_keys} keys)"


def _pct(p: Percentiles) -> str:
    return f"{_ms(p.median_ms)} / {_ms(p.p90_ms)} (n={p.samples})"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows:
        table.add_row(k, v)
    return table


def render_stats(console: Console, s: Stats) -> None:
    queues = Table(title="Queues", title_justify="left")
    for name in ("queue", "gender", "preference"):
        queues.add_column(name)
    queues.add_column("waiting", justify="right")
    for q in s.queues:
        queues.add_row(q.name, q.gender, q.preference, str(q.length))
    console.print(queues)
    scope = f"pool {s.pool}" if s.pool else "every pool"
    console.print(
        _pairs(
            f"Totals ({scope}) at {_when(s.time_ms)}",
            [
                ("users waiting", str(s.users_waiting)),
                ("active rooms", _count(s.active_rooms)),
                ("live sessions", _count(s.live_sessions)),
                ("matches, last minute", str(s.last_minute.matches)),
                ("matches, last hour", str(s.last_hour.matches)),
                ("wait median / p90, last minute", _pct(s.last_minute.wait)),
                ("wait median / p90, last hour", _pct(s.last_hour.wait)),
                ("waiters' wait median / p90, last hour", _pct(s.last_hour.waiter_wait)),
                ("shadowed users", str(s.shadowed)),
            ],
        )
    )

    if len(s.pools) > 1:
        pools = Table(title="Pools", title_justify="left")
        for name in ("pool", "waiting", "rooms", "sessions", "matches/min", "matches/h"):
            pools.add_column(name, justify="left" if name == "pool" else "right")
        pools.add_column("waiters' wait median / p90, last hour")
        for p in s.pools:
            pools.add_row(
                p.pool,
                str(p.users_waiting),
                _count(p.active_rooms),
                _count(p.live_sessions),
                str(p.matches_last_minute),
                str(p.matches_last_hour),
                _pct(p.waiter_wait_last_hour),
            )
        console.print(pools)


def render_pools(console: Console, pools: list[PoolInfo]) -> None:
    table = Table(title="Pools", title_justify="left")
    for name in ("pool", "prefix", "slot", "node"):
        table.add_column(name)
    for p in pools:
        table.add_row(p.pool, p.prefix, str(p.slot), p.node or "-")
    console.print(table)


def render_health(console: Console, h: Health) -> None:
    rows = [("status", h.status), ("redis", "reachable" if h.redis else "unreachable")]
    if h.redis:
        rows += [("latency", f"{h.latency_ms} ms"), ("version", h.redis_version or "-")]
        rows += [("nodes checked", str(h.nodes))]
        rows += [(f"script {n}", "cached" if ok else "not cached") for n, ok in h.scripts.items()]
    if h.error:
        rows.append(("error", h.error))
    console.print(_pairs("Health", rows))


def render_queue(console: Console, q: QueuePage) -> None:
    table = Table(title=f"{q.name} (pool {q.pool}): {q.length} waiting", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("user", no_wrap=True)
    table.add_column("waited", justify="right")
    table.add_column("since")
    table.add_column("stale")
    for w in q.waiters:
        table.add_row(
            str(w.position),
            w.user_id,
            _ms(w.waited_ms),
            _when(w.enqueued_ms),
            "yes" if w.stale else "",
        )
    console.print(table)
    if q.next_offset is not None:
        console.print(f"more: --offset {q.next_offset}")


def _room_table(r: Room) -> Table:
    table = Table(
        title=f"Room {r.room_id} (pool {r.pool}): age {_ms(r.age_ms)}, TTL {r.ttl_s} s",
        title_justify="left",
    )
    for name in ("role", "user", "connection", "in room"):
        table.add_column(name, no_wrap=name != "role")
    for m in r.members:
        table.add_row(m.role, m.user_id, m.connection_id or "(gone)", "yes" if m.in_room else "no")
    return table


def render_room(console: Console, r: Room) -> None:
    console.print(_room_table(r))


def render_user(console: Console, u: User) -> None:
    s = u.session
    if s is None:
        console.print(f"User {u.user_id}: no session (expired or disconnected)")
    else:
        live = "" if s.connection_live else " (connection key gone)"
        rows = [
            ("connection", (s.connection_id or "-") + live),
            ("TTL", _ms(s.ttl_ms)),
            ("connected since", _when(s.since_ms)),
            ("last join", f"{s.gender or '-'} looking for {s.preference or '-'}"),
        ]
        console.print(_pairs(f"User {u.user_id} (pool {u.pool})", rows))
    if u.room:
        console.print(_room_table(u.room))
    if u.queue_entry:
        e = u.queue_entry
        console.print(
            f"Waiting in {e.name} at position {e.position} for {_ms(e.waited_ms)}"
            f" (since {_when(e.enqueued_ms)})"
        )
    partners = ", ".join(u.recent_partners) or "none"
    console.print(f"Recent partners ({u.recent_partners_total}): {partners}")
    console.print(f"Blocked users: {u.blocked}")
    if u.other_pools:
        console.print(f"Also in pools: {', '.join(u.other_pools)} (--pool NAME to see one)")


def render_reports(console: Console, r: Reports) -> None:
    title = "Reports" if r.total is None else f"Reports: {r.total}"
    if r.pending:
        title += f" ({r.pending} waiting in Redis for the report store)"
    table = Table(title=title, title_justify="left")
    for name in ("id", "pool", "when", "reporter", "reported", "room", "reason"):
        table.add_column(name, overflow="fold")
    for rep in r.reports:
        table.add_row(
            rep.id,
            rep.pool,
            _when(rep.ts),
            rep.reporter or "-",
            rep.reported or "-",
            rep.room_id or "-",
            rep.reason or "",
        )
    console.print(table)
    if r.next_before:
        console.print(f"more: --before {r.next_before}")


def render_shadow(console: Console, s: ShadowPage) -> None:
    table = Table(title=f"Shadowed in pool {s.pool}: {s.total}", title_justify="left")
    for name in ("user", "until", "left", "reporters"):
        table.add_column(name, overflow="fold")
    for u in s.users:
        table.add_row(u.user_id, _when(u.until_ms), _ms(u.remaining_ms), str(u.reporters))
    console.print(table)
    if s.next_offset is not None:
        console.print(f"more: --offset {s.next_offset}")


RENDERERS: dict[type[BaseModel], Callable[[Console, BaseModel], None]] = {
    Stats: render_stats,  # type: ignore[dict-item]
    Health: render_health,  # type: ignore[dict-item]
    QueuePage: render_queue,  # type: ignore[dict-item]
    Room: render_room,  # type: ignore[dict-item]
    User: render_user,  # type: ignore[dict-item]
    Reports: render_reports,  # type: ignore[dict-item]
    ShadowPage: render_shadow,  # type: ignore[dict-item]
}
