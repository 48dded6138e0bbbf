"""What the service costs on AWS, per 1,000 chats and per 1,000 concurrent-user-hours.

``python -m bench.cost``: measures (bench/servertime.py: Redis server CPU, bytes and script
calls per operation; bench/handlertime.py: warm handler CPU time and Management API post
bytes per operation), then prices the traffic mix of bench/prices.toml with the prices and
assumptions in that file (operators edit it) through bench/costmodel.py, and prints the
cost split into API Gateway, Lambda, ElastiCache (ECPU and storage) and NAT, for today's
relay and for a direct chat (issue 16), the line that dominates and what each lever saves.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bench.costmodel import (
    HOURS_PER_MONTH,
    LINES,
    Config,
    OpUsage,
    billed_ms,
    direct_chat,
    ecpus,
    fixed_per_hour,
    levers,
    load_config,
    per_1000_chats,
    per_1000_user_hours,
    per_user_minute,
)

# -- the run: measure, then print ------------------------------------------------------------


def usages(st: Any, ht: Mapping[str, Any]) -> dict[str, OpUsage]:
    """OpUsage per operation from a bench.servertime and a bench.handlertime result."""
    return {
        key: OpUsage(
            inbound=r.inbound,
            posts=r.posts,
            invocations=ht[key].invocations,
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
    out.append(
        "Lambda billed ms per invocation: "
        + ", ".join(f"{k} {billed_ms(o, a):.0f}" for k, o in ops.items() if o.invocations)
    )
    dominant = max(relay, key=lambda k: relay[k])
    out.append(
        f"dominant line: {dominant} ({relay[dominant] / total_relay:.0%} of the variable cost)"
    )
    found = levers(ops, cfg.mix, cfg.prices, a, bytes_per_user)
    out.append("levers (share of the variable cost saved):")
    out.extend(f"  {lv.saving:6.1%}  {lv.name}  [{lv.kind}]" for lv in found)
    cheapest = next(lv for lv in found if lv.kind == "config")
    out.append(f"cheapest lever (configuration only): {cheapest.name}, saves {cheapest.saving:.0%}")
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
