"""What the service costs on AWS, per 1,000 chats and per 1,000 concurrent-user-hours.

From what one run measures (bench/servertime.py: Redis server CPU, bytes and script calls per
operation; bench/handlertime.py: warm handler time and Management API post bytes per
operation) and the prices, assumptions and traffic mix in bench/prices.toml (operators edit
that file), this prints the cost of the stated mix split into API Gateway, Lambda, ElastiCache
(ECPU and storage) and NAT, the line that dominates, and what each lever would save.

The arithmetic (everything above :func:`run`) is pure: measured counts and prices in,
dollars out (tests/unit/bench/test_cost.py checks it by hand). The model:

- API Gateway: every frame a client sends and every post back is one message (frames are far
  under the 32 KB increment); ``$connect``/``$disconnect`` are not messages; each active user
  holds one connection minute per minute.
- Lambda: one invocation per frame, connect and disconnect; billed duration per invocation
  = local warm handler CPU time x (1769 MB / memory: Lambda's CPU share) + the waits of
  its posts and Redis calls (assumptions), rounded up to 1 ms.
- ElastiCache: ECPUs per script call = max(1, server CPU / a plain SET/GET's server CPU,
  KB transferred), AWS's rule (prices.toml); storage = Redis memory per user in a room.
- NAT: every post's HTTP bytes plus TLS/TCP framing; the gateway's hours are a fixed cost.

A chat is one match: with one join per user-minute, ``mix["join_match"]`` chats per active
user-minute (0.5). The "direct chat" column (issue 16) is the same mix with the relayed
messages removed and ``signals_per_chat`` signaling messages per chat relayed instead.
"""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

PRICES = Path(__file__).resolve().parent / "prices.toml"
GB = 1024**3
HOURS_PER_MONTH = 730

#: Cost lines, in print order, with the service each belongs to.
LINES: dict[str, str] = {
    "API Gateway messages": "API Gateway",
    "API Gateway connection minutes": "API Gateway",
    "Lambda requests": "Lambda",
    "Lambda duration": "Lambda",
    "ElastiCache ECPU": "ElastiCache",
    "ElastiCache storage": "ElastiCache",
    "NAT data processed": "NAT",
}
PRICE_KEYS = (
    "apigw_message",
    "apigw_connection_minute",
    "lambda_request",
    "lambda_gb_second",
    "ecpu",
    "storage_gb_hour",
    "nat_hour",
    "nat_gb",
)


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    unit: str
    source: str
    retrieved: str
    confirmed: bool
    note: str = ""

    @property
    def rate(self) -> float:
        """USD per single unit."""
        return self.usd / self.per


@dataclass(frozen=True)
class Config:
    prices: dict[str, Price]
    assumptions: dict[str, float]
    mix: dict[str, float]
    region: str
    retrieved: str


def load_config(path: Path = PRICES) -> Config:
    data = tomllib.loads(path.read_text())
    prices = {k: Price(**v) for k, v in data["prices"].items()}
    missing = set(PRICE_KEYS) - set(prices)
    if missing:
        raise ValueError(f"{path}: prices missing: {sorted(missing)}")
    return Config(
        prices=prices,
        assumptions={k: float(v) for k, v in data["assumptions"].items()},
        mix={k: float(v) for k, v in data["mix"].items()},
        region=data["meta"]["region"],
        retrieved=data["meta"]["retrieved"],
    )


@dataclass(frozen=True)
class OpUsage:
    """What one operation uses, as measured."""

    #: API Gateway messages received (the client's frame), posts sent back.
    inbound: float
    posts: float
    #: Lambda invocations, and the warm handler CPU time of one here (ms).
    invocations: float
    handler_ms: float
    #: Redis script calls; ECPUs (see :func:`ecpus`).
    scripts: float
    ecpu: float
    #: HTTP bytes of the posts (requests + responses), before TLS/TCP framing.
    post_bytes: float
    #: A pessimistic ECPU count for comparison: Lua time in plain commands' time inside a
    #: script (the reference script's time / 8), as if every command were billed by vCPU.
    ecpu_lua: float = 0.0


def ecpus(cpu_us: float, simple_cpu_us: float, bytes_transferred: float, calls: float) -> float:
    """ECPUs per AWS's rule: 1 per request, more in proportion to vCPU time (against a plain
    SET/GET's) or to KB transferred, whichever is larger."""
    return max(calls, cpu_us / simple_cpu_us, bytes_transferred / 1024)


def billed_ms(op: OpUsage, a: Mapping[str, float]) -> float:
    """Billed Lambda duration of one invocation of this operation (ms, rounded up)."""
    if not op.invocations:
        return 0.0
    cpu_share = max(1.0, a["lambda_full_vcpu_mb"] / a["lambda_memory_mb"])
    waits = op.posts * a["management_post_ms"] + op.scripts * a["redis_round_trip_ms"]
    return float(math.ceil((op.handler_ms * cpu_share + waits) / op.invocations))


def per_user_minute(
    ops: Mapping[str, OpUsage],
    mix: Mapping[str, float],
    prices: Mapping[str, Price],
    a: Mapping[str, float],
    bytes_per_user: float,
) -> dict[str, float]:
    """USD per active user-minute, by cost line."""
    p = {k: v.rate for k, v in prices.items()}

    def total(f: Callable[[OpUsage], float]) -> float:
        return sum(rate * f(ops[key]) for key, rate in mix.items())

    gb_seconds = total(lambda o: o.invocations * billed_ms(o, a) / 1000) * (
        a["lambda_memory_mb"] / 1024
    )
    nat_bytes = total(lambda o: o.post_bytes + o.posts * a["post_wire_overhead_bytes"])
    return {
        "API Gateway messages": total(lambda o: o.inbound + o.posts) * p["apigw_message"],
        "API Gateway connection minutes": p["apigw_connection_minute"],
        "Lambda requests": total(lambda o: o.invocations) * p["lambda_request"],
        "Lambda duration": gb_seconds * p["lambda_gb_second"],
        "ElastiCache ECPU": total(lambda o: o.ecpu) * p["ecpu"],
        "ElastiCache storage": bytes_per_user / GB / 60 * p["storage_gb_hour"],
        "NAT data processed": nat_bytes / GB * p["nat_gb"],
    }


def fixed_per_hour(prices: Mapping[str, Price], a: Mapping[str, float]) -> dict[str, float]:
    """Costs that do not grow with traffic (USD per hour)."""
    return {
        "NAT gateway hours": a["nat_gateways"] * prices["nat_hour"].rate,
        "ElastiCache minimum storage (100 MB)": 0.1 * prices["storage_gb_hour"].rate,
    }


def chats_per_user_minute(mix: Mapping[str, float]) -> float:
    return mix["join_match"]


def per_1000_chats(lines: Mapping[str, float], mix: Mapping[str, float]) -> dict[str, float]:
    return {k: v * 1000 / chats_per_user_minute(mix) for k, v in lines.items()}


def per_1000_user_hours(lines: Mapping[str, float]) -> dict[str, float]:
    return {k: v * 60 * 1000 for k, v in lines.items()}


def direct_chat(
    ops: Mapping[str, OpUsage], mix: Mapping[str, float], a: Mapping[str, float]
) -> tuple[dict[str, OpUsage], dict[str, float]]:
    """Issue 16's hook: text goes peer-to-peer after the match, so the relayed messages leave
    the mix and ``signals_per_chat`` signaling frames per chat go through the server instead.
    A ``signal`` operation is measured when the protocol has one; until then a relayed
    message stands in for it (same script family and post), with a signaling frame's size."""
    ops = dict(ops)
    if "signal" not in ops:
        send = ops["send"]
        frame_growth = a["signal_frame_bytes"] - a.get("message_frame_bytes", 0.0)
        ops["signal"] = replace(send, post_bytes=send.post_bytes + send.posts * frame_growth)
    new_mix = {k: v for k, v in mix.items() if k != "send"}
    new_mix["signal"] = a["signals_per_chat"] * chats_per_user_minute(mix)
    return ops, new_mix


@dataclass(frozen=True)
class Lever:
    name: str
    kind: str
    saving: float  # fraction of the per-user-minute total


def levers(
    ops: Mapping[str, OpUsage],
    mix: Mapping[str, float],
    prices: Mapping[str, Price],
    a: Mapping[str, float],
    bytes_per_user: float,
) -> list[Lever]:
    """What each candidate change would save of the variable cost, largest first."""

    def total(
        o: Mapping[str, OpUsage] = ops, m: Mapping[str, float] = mix, aa: Mapping[str, float] = a
    ) -> float:
        return sum(per_user_minute(o, m, prices, aa, bytes_per_user).values())

    base = total()
    hb = {k: v * 0.5 if k.startswith("heartbeat") else v for k, v in mix.items()}
    no_pong = {
        k: replace(
            o, posts=max(0.0, o.posts - 1), post_bytes=o.post_bytes * (o.posts - 1) / o.posts
        )
        if k.startswith("heartbeat") and o.posts
        else o
        for k, o in ops.items()
    }
    half_redis = {k: replace(o, ecpu=o.ecpu / 2) for k, o in ops.items()}
    candidates = [
        ("heartbeat every 60 s instead of 30 s (session TTL 120 s)", "setting", total(m=hb)),
        ("no pong reply to a heartbeat", "protocol", total(o=no_pong)),
        (
            "direct chat: text peer-to-peer after the match",
            "feature",
            total(*direct_chat(ops, mix, a)),
        ),
        ("halve Redis server time (issue 15)", "code", total(o=half_redis)),
        ("Lambda at 256 MB instead of 512 MB", "setting", total(aa={**a, "lambda_memory_mb": 256})),
    ]
    found = [Lever(name, kind, 1 - cost / base) for name, kind, cost in candidates]
    return sorted(found, key=lambda lever: -lever.saving)


# -- the run: measure, then print ------------------------------------------------------------


def usages(st: Any, ht: Mapping[str, Any]) -> dict[str, OpUsage]:
    """OpUsage per operation from a bench.servertime and a bench.handlertime result."""
    return {
        key: OpUsage(
            inbound=r.inbound,
            posts=r.posts,
            invocations=1.0,
            handler_ms=ht[key].handler_cpu_ms,
            scripts=r.script_calls,
            ecpu=ecpus(r.cpu_us, st.simple_cpu_us, r.bytes_in + r.bytes_out, r.script_calls),
            post_bytes=ht[key].post_bytes,
            ecpu_lua=max(r.script_calls, r.server_us / (st.ref_us / 8)),
        )
        for key, r in st.ops.items()
    }


def _money(x: float) -> str:
    if x < 0.001:
        return f"${x:.6f}"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def report(
    ops: Mapping[str, OpUsage], cfg: Config, bytes_per_user: float, message_frame_bytes: float
) -> tuple[str, dict[str, Any]]:
    """The printed table and the same numbers as data."""
    a = {**cfg.assumptions, "message_frame_bytes": message_frame_bytes}
    relay = per_user_minute(ops, cfg.mix, cfg.prices, a, bytes_per_user)
    d_ops, d_mix = direct_chat(ops, cfg.mix, a)
    direct = per_user_minute(d_ops, d_mix, cfg.prices, a, bytes_per_user)
    cols = [
        per_1000_chats(relay, cfg.mix),
        per_1000_user_hours(relay),
        per_1000_chats(direct, cfg.mix),
        per_1000_user_hours(direct),
    ]
    rows = [
        ("", "per 1,000 chats", "per 1,000 user-hours", "share", "direct: chats", "direct: u-h")
    ]
    total_relay = sum(relay.values())
    for line in LINES:
        rows.append(
            (
                line,
                *(_money(c[line]) for c in cols[:2]),
                f"{relay[line] / total_relay:.0%}",
                *(_money(c[line]) for c in cols[2:]),
            )
        )
    for group in dict.fromkeys(LINES.values()):
        rows.append(
            (
                f"= {group}",
                *(_money(sum(c[k] for k in LINES if LINES[k] == group)) for c in cols[:2]),
                f"{sum(relay[k] for k in LINES if LINES[k] == group) / total_relay:.0%}",
                *(_money(sum(c[k] for k in LINES if LINES[k] == group)) for c in cols[2:]),
            )
        )
    rows.append(
        (
            "total",
            *(_money(sum(c.values())) for c in cols[:2]),
            "100%",
            *(_money(sum(c.values())) for c in cols[2:]),
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    fixed = fixed_per_hour(cfg.prices, a)
    users = a["concurrent_users_for_fixed_costs"]
    out.append(
        "fixed: "
        + ", ".join(f"{k} {_money(v * HOURS_PER_MONTH)}/month" for k, v in fixed.items())
        + f"; at {users:,.0f} concurrent active users that adds "
        + f"{_money(sum(fixed.values()) * 1000 / users)} per 1,000 user-hours"
    )
    lua = {k: replace(o, ecpu=o.ecpu_lua or o.ecpu) for k, o in ops.items()}
    lua_ecpu = per_user_minute(lua, cfg.mix, cfg.prices, a, bytes_per_user)["ElastiCache ECPU"]
    out.append(
        f"ElastiCache ECPU counted by Lua time instead (a plain command inside a script = 1): "
        f"{_money(per_1000_user_hours({'x': lua_ecpu})['x'])} per 1,000 user-hours, "
        f"{lua_ecpu / (total_relay - relay['ElastiCache ECPU'] + lua_ecpu):.0%} of the total"
    )
    dominant = max(relay, key=lambda k: relay[k])
    out.append(
        f"dominant line: {dominant} ({relay[dominant] / total_relay:.0%} of the variable cost)"
    )
    found = levers(ops, cfg.mix, cfg.prices, a, bytes_per_user)
    out.append("levers (share of the variable cost saved):")
    out.extend(f"  {lv.saving:6.1%}  {lv.name}  [{lv.kind}]" for lv in found)
    cheapest = next(lv for lv in found if lv.kind == "setting")
    out.append(f"cheapest lever (a setting): {cheapest.name}, saves {cheapest.saving:.0%}")
    unconfirmed = [k for k, p in cfg.prices.items() if not p.confirmed]
    out.append(
        f"prices: {cfg.region}, retrieved {cfg.retrieved} (bench/prices.toml); "
        f"not confirmed on an AWS page: {', '.join(unconfirmed)}"
    )
    data = {
        "per_user_minute": relay,
        "per_1000_chats": cols[0],
        "per_1000_user_hours": cols[1],
        "direct_per_1000_chats": cols[2],
        "direct_per_1000_user_hours": cols[3],
        "fixed_per_hour": fixed,
        "dominant": dominant,
        "levers": [lv.__dict__ for lv in found],
        "ops": {k: o.__dict__ for k, o in ops.items()},
        "billed_ms": {k: billed_ms(o, a) for k, o in ops.items()},
    }
    return "\n".join(out), data


def run(servertimes: Any = None, n: int = 100, reps: int = 3) -> list[Any]:
    import uuid

    from bench import servertime
    from bench.common import Metric
    from bench.handlertime import run_handlertime
    from pairchat.domain.protocol import encode, frame

    cfg = load_config()
    st = servertimes or servertime.latest() or servertime.run_servertime(mix=cfg.mix)
    ht = run_handlertime(n, reps)
    send_text = servertime.SEND["text"]
    ops = usages(st, ht)
    # The relayed message's frame, which a signaling frame replaces in the direct column.
    message_bytes = len(encode(frame("message", roomId=str(uuid.uuid4()), text=send_text)))
    text, data = report(ops, cfg, st.bytes_per_user_in_room, message_bytes)
    print(text, flush=True)
    relay, direct = data["per_1000_chats"], data["direct_per_1000_chats"]
    return [
        Metric("cost", "cost per 1,000 chats (relay)", sum(relay.values()), "USD", details=data),
        Metric(
            "cost",
            "cost per 1,000 concurrent-user-hours (relay)",
            sum(data["per_1000_user_hours"].values()),
            "USD",
        ),
        Metric(
            "cost",
            "cost per 1,000 chats, direct chat / relay",
            sum(direct.values()),
            "USD",
            limit=sum(relay.values()),
            limit_name="USD relay",
        ).judge(),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="server-time operations per batch")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    from bench import servertime

    st = servertime.run_servertime(args.n, args.reps)
    print(servertime.table(st), "\n", flush=True)
    run(st)


if __name__ == "__main__":
    main()
