"""Redis server time per operation, in units of a reference script timed in the same run.

Issue 15 measures capacity as the Redis server time one active user costs per minute: a pool
is one cluster slot, so one engine thread carries all of its users. This benchmark drives the
real WebSocket handlers (``handle_connect``/``handle_message``/``handle_disconnect`` over the
real ChatService and ChatStore) against one private redis-server, one batch of N operations
of one kind at a time, and reads from ``INFO`` after each batch (``CONFIG RESETSTAT`` before):

- server time: ``cmdstat_evalsha`` usec per operation (script time, including the commands
  the script runs; an operation that runs two scripts counts both);
- Redis commands per operation: the calls of every cmdstat other than the script and admin
  commands, i.e. the ``redis.call``s made inside the scripts;
- the server process's CPU time and network bytes per operation (bench/cost.py turns them
  into ElastiCache ECPUs), and the Management API posts per operation.

Before every operation batch, a batch of the reference script (8 plain SET/GET commands on
one key, via EVALSHA) is timed the same way: each operation is reported in reference units
(its server time / the reference's, batch by batch), because a no-op script is too short for
commandstats to time steadily on a shared machine. Medians over the repetitions (the first
one warms up and is dropped). The per-active-user-minute total uses the traffic mix in
bench/prices.toml (``[mix]``, the one docs/performance.md states).

Each operation is checked to do what its name says (the frames it posts are counted by type),
so a changed script or protocol makes this fail loudly rather than measure something else.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bench.common import PREFIX, Metric, StubNotifier, bench_settings, event, median, private_redis
from pairchat.bootstrap import redis_client
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.handlers.ws import handle_connect, handle_disconnect, handle_message

#: Issue 15's "before" (main at 6105475, 2026-11-30, this machine): per active user-minute,
#: in reference units. The goal is at most half of it.
BEFORE_UNITS_PER_USER_MINUTE = 27.0

REFERENCE = """
redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1]) redis.call('GET', KEYS[1])
return 1
"""

#: Commands a client sends (the product's script calls, and this benchmark's own admin
#: calls); every other cmdstat was called from inside a script.
_OUTER = ("evalsha", "eval", "evalsha_ro", "eval_ro", "fcall", "fcall_ro", "info", "ping")
_OUTER_FAMILIES = ("script|", "config|", "client|", "hello", "flushall")

WAITER = {"action": "join", "gender": "male", "preference": "female"}
JOINER = {"action": "join", "gender": "female", "preference": "any"}

Thunk = Callable[[], Any]


class Driver:
    """Sends events through the real handlers; every connection gets its own source IP (so
    per-IP limits, where they exist, see many people, as they would)."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self._ips = 0

    def connect_event(self, cid: str) -> dict[str, Any]:
        ev = event("connect", cid)
        self._ips += 1
        ip = f"10.{self._ips >> 16 & 255}.{self._ips >> 8 & 255}.{self._ips & 255}"
        ev["requestContext"].setdefault("identity", {})["sourceIp"] = ip
        if isinstance(ev.get("headers"), dict):
            ev["headers"]["X-Forwarded-For"] = ip
        return ev

    def connect(self, cids: list[str]) -> None:
        for cid in cids:
            status = handle_connect(self.connect_event(cid), self.service).get("statusCode")
            if status != 200:
                raise AssertionError(f"connect refused with {status}")

    def frame(self, cid: str, body: dict[str, Any]) -> Thunk:
        return partial(handle_message, event(body["action"], cid, body), self.service)

    def run(self, thunks: list[Thunk]) -> None:
        for t in thunks:
            t()

    def rooms(self, tag: str, n: int) -> list[tuple[str, str]]:
        """n fresh rooms: (waiter, joiner) connection ids."""
        waiters = [f"{tag}w{i}" for i in range(n)]
        joiners = [f"{tag}j{i}" for i in range(n)]
        self.connect(waiters + joiners)
        self.run([self.frame(c, WAITER) for c in waiters])
        self.run([self.frame(c, JOINER) for c in joiners])
        return list(zip(waiters, joiners, strict=True))


@dataclass(frozen=True)
class Op:
    key: str
    label: str
    #: (driver, tag, n) -> the n timed calls; the untimed setup happens inside.
    prepare: Callable[[Driver, str, int], list[Thunk]]
    #: Frames one operation posts, by type (checked).
    posts: dict[str, int]
    #: API Gateway messages received per operation ($connect/$disconnect: none).
    inbound: int = 1


def _connects(d: Driver, tag: str, n: int) -> list[Thunk]:
    return [partial(handle_connect, d.connect_event(f"{tag}c{i}"), d.service) for i in range(n)]


def _join_queue(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}q{i}" for i in range(n)]
    d.connect(cids)
    return [d.frame(c, WAITER) for c in cids]


def _join_match(d: Driver, tag: str, n: int) -> list[Thunk]:
    waiters = [f"{tag}w{i}" for i in range(n)]
    joiners = [f"{tag}j{i}" for i in range(n)]
    d.connect(waiters + joiners)
    d.run([d.frame(c, WAITER) for c in waiters])
    return [d.frame(c, JOINER) for c in joiners]


def _in_room(body: dict[str, Any]) -> Callable[[Driver, str, int], list[Thunk]]:
    def prepare(d: Driver, tag: str, n: int) -> list[Thunk]:
        return [d.frame(j, body) for _w, j in d.rooms(tag, n)]

    return prepare


def _heartbeat_queued(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}q{i}" for i in range(n)]
    d.connect(cids)
    d.run([d.frame(c, WAITER) for c in cids])  # nobody compatible: the retry finds nothing
    return [d.frame(c, {"action": "heartbeat"}) for c in cids]


def _disconnect_idle(d: Driver, tag: str, n: int) -> list[Thunk]:
    cids = [f"{tag}i{i}" for i in range(n)]
    d.connect(cids)
    return [partial(handle_disconnect, event("disconnect", c), d.service) for c in cids]


def _disconnect_room(d: Driver, tag: str, n: int) -> list[Thunk]:
    return [
        partial(handle_disconnect, event("disconnect", j), d.service) for _w, j in d.rooms(tag, n)
    ]


SEND = {"action": "send", "text": "hello there"}
HEARTBEAT = {"action": "heartbeat"}

OPS: tuple[Op, ...] = (
    Op("connect", "connect", _connects, {}, inbound=0),
    Op("join_queue", "join that queues", _join_queue, {"queued": 1}),
    Op("join_match", "join that matches", _join_match, {"matched": 2}),
    Op("send", "relayed message", _in_room(SEND), {"message": 1}),
    Op("heartbeat_room", "heartbeat in a room", _in_room(HEARTBEAT), {"pong": 1}),
    Op("heartbeat_queued", "heartbeat while queued (idle)", _heartbeat_queued, {"pong": 1}),
    Op("leave", "leave a room", _in_room({"action": "leave"}), {"partner_left": 1, "left": 1}),
    Op("disconnect_idle", "disconnect (idle)", _disconnect_idle, {}, inbound=0),
    Op("disconnect_room", "disconnect (in a room)", _disconnect_room, {"partner_left": 1}, 0),
    Op("report", "report", _in_room({"action": "report", "reason": "spam"}), {"reported": 1}),
    Op("block", "block", _in_room({"action": "block"}), {"partner_left": 1, "blocked": 1}),
)


@dataclass
class Batch:
    """What INFO says one batch of n operations cost the server."""

    n: int
    script_us: float
    script_calls: int
    commands: int
    cpu_us: float
    bytes_in: int
    bytes_out: int
    stats: dict[str, Any] = field(default_factory=dict)

    def per_op(self, value: float) -> float:
        return value / self.n


def _cpu_us(info: dict[str, Any]) -> float:
    """The server's CPU time (main thread where Redis reports it), in us."""
    if "used_cpu_user_main_thread" in info:
        return 1e6 * (info["used_cpu_user_main_thread"] + info["used_cpu_sys_main_thread"])
    return 1e6 * (info["used_cpu_user"] + info["used_cpu_sys"])


def _is_inner(command: str) -> bool:
    return command not in _OUTER and not command.startswith(_OUTER_FAMILIES)


def measure(admin: Any, thunks: list[Thunk]) -> Batch:
    """Runs the thunks between ``CONFIG RESETSTAT`` and one ``INFO``: script time and calls,
    the commands run inside scripts, server CPU and bytes (the reset/INFO calls themselves
    add under 0.1 byte and well under 1 us per operation at n=500)."""
    cpu0 = _cpu_us(admin.info("cpu"))
    admin.config_resetstat()
    for t in thunks:
        t()
    cpu1 = _cpu_us(admin.info("cpu"))
    info = admin.info("all")
    stats = {k.removeprefix("cmdstat_"): v for k, v in info.items() if k.startswith("cmdstat_")}
    scripts = [v for k, v in stats.items() if k in ("evalsha", "eval")]
    return Batch(
        n=len(thunks),
        script_us=float(sum(v["usec"] for v in scripts)),
        script_calls=int(sum(v["calls"] for v in scripts)),
        commands=int(sum(v["calls"] for k, v in stats.items() if _is_inner(k))),
        cpu_us=cpu1 - cpu0,
        bytes_in=int(info["total_net_input_bytes"]),
        bytes_out=int(info["total_net_output_bytes"]),
        stats=stats,
    )


@dataclass
class OpResult:
    key: str
    label: str
    inbound: int
    server_us: float
    units: float
    script_calls: float
    commands: float
    posts: float
    cpu_us: float
    bytes_in: float
    bytes_out: float
    per_rep_us: list[float]
    per_rep_units: list[float]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ServerTimes:
    n: int
    reps: int
    ref_us: float
    ref_cpu_us: float
    #: Server CPU per plain SET/GET sent by a client: AWS's 1-ECPU baseline.
    simple_cpu_us: float
    bytes_per_user_in_room: float
    ops: dict[str, OpResult]
    mix: dict[str, float]
    total_us: float
    total_units: float
    per_rep_total_units: list[float]
    load_average: tuple[float, float, float]


def check_posts(op: Op, n: int, before: dict[str, int], notifier: Any) -> int:
    """Checks the frames the batch posted (``notifier.types``: counts by frame type)."""
    delta = {k: v - before.get(k, 0) for k, v in notifier.types.items() if v != before.get(k, 0)}
    want = {k: v * n for k, v in op.posts.items()}
    if delta != want:
        raise AssertionError(f"{op.label}: expected frames {want} for {n} operations, got {delta}")
    return sum(delta.values())


def run_servertime(n: int = 500, reps: int = 5, mix: dict[str, float] | None = None) -> ServerTimes:
    from bench.cost import load_config

    mix = mix if mix is not None else load_config().mix
    with private_redis() as url:
        settings = bench_settings(url)
        admin = redis_client(settings)
        notifier = StubNotifier()
        driver = Driver(ChatService(ChatStore(admin, settings), notifier, settings))
        reference = admin.register_script(REFERENCE)
        ref_key = f"{PREFIX}reference"
        ref_thunks = [lambda: reference(keys=[ref_key], args=["v" * 16])] * n

        def simple(i: int) -> Thunk:
            return (lambda: admin.set(ref_key, "v" * 16)) if i % 2 else (lambda: admin.get(ref_key))

        raw: dict[str, list[tuple[Batch, Batch, int]]] = {op.key: [] for op in OPS}
        simple_cpu: list[float] = []
        for rep in range(reps + 1):  # rep 0 warms up (script loads, allocator) and is dropped
            admin.flushall()
            s = measure(admin, [simple(i) for i in range(n)])
            for op in OPS:
                admin.flushall()
                ref = measure(admin, ref_thunks)
                thunks = op.prepare(driver, f"r{rep}{op.key}", n)
                before = dict(notifier.types)
                batch = measure(admin, thunks)
                posts = check_posts(op, n, before, notifier)
                if rep:
                    raw[op.key].append((batch, ref, posts))
            if rep:
                simple_cpu.append(s.per_op(s.cpu_us))
        admin.flushall()
        m0 = admin.info("memory")["used_memory"]
        driver.run(
            [
                driver.frame(j, {"action": "send", "text": "hello there"})
                for _w, j in driver.rooms("mem", n)
            ]
        )
        bytes_per_user = (admin.info("memory")["used_memory"] - m0) / (2 * n)
        admin.close()

    ops: dict[str, OpResult] = {}
    refs = [r for runs in raw.values() for _b, r, _p in runs]
    for op in OPS:
        runs = raw[op.key]
        us = [b.per_op(b.script_us) for b, _r, _p in runs]
        units = [b.script_us / r.script_us for b, r, _p in runs]
        ops[op.key] = OpResult(
            key=op.key,
            label=op.label,
            inbound=op.inbound,
            server_us=median(us),
            units=median(units),
            script_calls=median([b.per_op(b.script_calls) for b, _r, _p in runs]),
            commands=median([b.per_op(b.commands) for b, _r, _p in runs]),
            posts=median([p / n for _b, _r, p in runs]),
            cpu_us=median([b.per_op(b.cpu_us) for b, _r, _p in runs]),
            bytes_in=median([b.per_op(b.bytes_in) for b, _r, _p in runs]),
            bytes_out=median([b.per_op(b.bytes_out) for b, _r, _p in runs]),
            per_rep_us=us,
            per_rep_units=units,
        )
    unknown = set(mix) - set(ops)
    if unknown:
        raise ValueError(f"[mix] names operations this benchmark does not measure: {unknown}")
    per_rep_total = [
        sum(rate * ops[k].per_rep_units[i] for k, rate in mix.items()) for i in range(reps)
    ]
    return ServerTimes(
        n=n,
        reps=reps,
        ref_us=median([r.per_op(r.script_us) for r in refs]),
        ref_cpu_us=median([r.per_op(r.cpu_us) for r in refs]),
        simple_cpu_us=median(simple_cpu),
        bytes_per_user_in_room=bytes_per_user,
        ops=ops,
        mix=dict(mix),
        total_us=median(
            [sum(rate * ops[k].per_rep_us[i] for k, rate in mix.items()) for i in range(reps)]
        ),
        total_units=median(per_rep_total),
        per_rep_total_units=per_rep_total,
        load_average=os.getloadavg(),
    )


_LATEST: ServerTimes | None = None


def latest() -> ServerTimes | None:
    """The result of this process's last run (bench.run hands it to bench.cost)."""
    return _LATEST


def table(st: ServerTimes) -> str:
    rows = [
        (
            "operation",
            "server us",
            "ref units",
            "scripts",
            "commands",
            "posts",
            "cpu us",
            "bytes in/out",
            "per min",
        )
    ]
    for r in st.ops.values():
        rows.append(
            (
                r.label,
                f"{r.server_us:.1f}",
                f"{r.units:.2f}",
                f"{r.script_calls:.2g}",
                f"{r.commands:.1f}",
                f"{r.posts:.2g}",
                f"{r.cpu_us:.1f}",
                f"{r.bytes_in:.0f}/{r.bytes_out:.0f}",
                f"{st.mix[r.key]:g}" if r.key in st.mix else "",
            )
        )
    rows.append(
        (
            "per active user-minute (mix)",
            f"{st.total_us:.0f}",
            f"{st.total_units:.1f}",
            "",
            "",
            "",
            "",
            "",
            "",
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"reference script (8 SET/GET via EVALSHA): {st.ref_us:.1f} us, "
        f"{st.ref_cpu_us:.1f} us server CPU; "
        f"a plain SET/GET from a client: {st.simple_cpu_us:.1f} us server CPU; "
        f"{st.bytes_per_user_in_room:.0f} bytes of Redis memory per user in a room; "
        f"n={st.n} x {st.reps} reps, load {st.load_average[0]:.1f}"
    )
    return "\n".join(lines)


def metrics(st: ServerTimes) -> list[Metric]:
    out = [
        Metric(
            "servertime",
            f"server time: {r.label}",
            r.server_us,
            "us",
            limit=st.ref_us,
            limit_name="us reference script",
            ratio=r.units,
            details=r.as_dict(),
        )
        for r in st.ops.values()
    ]
    out.append(
        Metric(
            "servertime",
            "server time per active user-minute (mix)",
            st.total_us,
            "us",
            limit=st.ref_us,
            limit_name="us reference script",
            ratio=st.total_units,
            # Issue 15: at most half of the before figure, in reference units.
            target=f"<= {BEFORE_UNITS_PER_USER_MINUTE / 2:g}",
            details={
                "mix": st.mix,
                "per_rep_units": st.per_rep_total_units,
                "before_units": BEFORE_UNITS_PER_USER_MINUTE,
                "simple_cpu_us": st.simple_cpu_us,
                "ref_cpu_us": st.ref_cpu_us,
                "bytes_per_user_in_room": st.bytes_per_user_in_room,
                "n": st.n,
                "reps": st.reps,
            },
        ).judge()
    )
    return out


def run(n: int = 500, reps: int = 5) -> list[Metric]:
    global _LATEST
    _LATEST = run_servertime(n, reps)
    print(table(_LATEST), flush=True)
    return metrics(_LATEST)


def main(argv: list[str] | None = None) -> None:
    from bench.common import print_metrics

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="operations per batch")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (median)")
    args = parser.parse_args(argv)
    ms = run(args.n, args.reps)
    print()
    print_metrics(ms)


if __name__ == "__main__":
    main()
