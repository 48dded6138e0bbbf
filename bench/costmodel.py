"""The cost model: measured counts and prices in, dollars out (pure arithmetic).

bench/cost.py feeds it what one run measures and prints the result; tests/unit/bench/
test_costmodel.py checks it by hand. The model:

- API Gateway: every frame a client sends and every post back is one message (frames are far
  under the 32 KB increment); ``$connect``/``$disconnect`` are not messages; each active user
  holds one connection minute per minute.
- Lambda: one invocation per frame and disconnect, two per connect (the `$connect` authorizer,
  then `$connect`); billed duration per invocation
  = local warm handler CPU time x (1769 MB / memory: Lambda's CPU share) + the waits of its
  posts and Redis calls (assumptions), rounded up to 1 ms.
- ElastiCache: ECPUs per script call = max(1, server CPU / a plain SET/GET's server CPU,
  KB transferred), AWS's rule (prices.toml); storage = Redis memory per user in a room.
- NAT: every post's HTTP bytes plus TLS/TCP framing; the gateway's hours are a fixed cost.

A chat is one match: with one join per user-minute, ``mix["join_match"]`` chats per active
user-minute (0.5). The "direct chat" column (issue 16) is the same mix with the relayed
messages removed and ``signals_per_chat`` signaling messages per chat relayed instead.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

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


#: The mix's relayed-message operations (a steady one and one whose TTL renewal is due).
RELAYED_MESSAGES = ("send", "send_renew")


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
    new_mix = {k: v for k, v in mix.items() if k not in RELAYED_MESSAGES}
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
        (
            "heartbeat every 60 s instead of 30 s (page HEARTBEAT_MS, SESSION_TTL_SECONDS=120)",
            "config",
            total(m=hb),
        ),
        ("no pong reply to a heartbeat", "protocol", total(o=no_pong)),
        (
            "direct chat: text peer-to-peer after the match",
            "feature",
            total(*direct_chat(ops, mix, a)),
        ),
        ("halve Redis server time (issue 15)", "code", total(o=half_redis)),
        ("Lambda at 256 MB instead of 512 MB", "config", total(aa={**a, "lambda_memory_mb": 256})),
    ]
    found = [Lever(name, kind, 1 - cost / base) for name, kind, cost in candidates]
    return sorted(found, key=lambda lever: -lever.saving)
