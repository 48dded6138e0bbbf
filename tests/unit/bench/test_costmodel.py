"""bench/costmodel.py's arithmetic, checked against sums done by hand, and bench/prices.toml's
shape (every price cited and dated)."""

from __future__ import annotations

import datetime
import math

import pytest
from bench.costmodel import (
    GB,
    LINES,
    OpUsage,
    Price,
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


def price(usd: float, per: float = 1) -> Price:
    return Price(usd, per, "unit", "https://example.com", "2026-11-30", True)


PRICES = {
    "apigw_message": price(1.00, 1e6),
    "apigw_connection_minute": price(0.25, 1e6),
    "lambda_request": price(0.20, 1e6),
    "lambda_gb_second": price(0.00001),
    "ecpu": price(0.002, 1e6),
    "storage_gb_hour": price(0.06),
    "nat_hour": price(0.05),
    "nat_gb": price(1.00),
}
A = {
    "lambda_memory_mb": 1024,
    "lambda_full_vcpu_mb": 1024,  # one vCPU: local CPU time counts as is
    "management_post_ms": 4.0,
    "redis_round_trip_ms": 1.0,
    "post_wire_overhead_bytes": 24,
    "nat_gateways": 2,
    "signals_per_chat": 10,
    "signal_frame_bytes": 1100,
    "message_frame_bytes": 100,
}
JOIN = OpUsage(
    inbound=1, posts=2, invocations=1, handler_ms=1.0, scripts=1, ecpu=10, post_bytes=2000
)
SEND = OpUsage(
    inbound=1, posts=1, invocations=1, handler_ms=0.5, scripts=1, ecpu=5, post_bytes=1000
)
OPS = {"join_match": JOIN, "send": SEND}
MIX = {"join_match": 0.5, "send": 6.0}


def test_ecpus_take_the_larger_of_vcpu_time_and_kilobytes_and_at_least_one_per_call() -> None:
    assert ecpus(cpu_us=40, simple_cpu_us=8, bytes_transferred=300, calls=1) == 5
    assert ecpus(cpu_us=4, simple_cpu_us=8, bytes_transferred=300, calls=1) == 1
    assert ecpus(cpu_us=4, simple_cpu_us=8, bytes_transferred=3072, calls=1) == 3
    assert ecpus(cpu_us=4, simple_cpu_us=8, bytes_transferred=300, calls=2) == 2


def test_billed_duration_scales_cpu_by_the_memory_share_adds_waits_and_rounds_up() -> None:
    # 1 ms CPU x 1 + 2 posts x 4 ms + 1 Redis call x 1 ms = 10 ms
    assert billed_ms(JOIN, A) == 10
    # 0.5 + 4 + 1 = 5.5 -> 6
    assert billed_ms(SEND, A) == 6
    # at 512 MB of 1024 the CPU part doubles: 1 + 4 + 1 = 6
    assert billed_ms(SEND, {**A, "lambda_memory_mb": 512}) == 6
    # never below the CPU share 1 (more memory than one vCPU buys no faster single thread)
    assert billed_ms(SEND, {**A, "lambda_memory_mb": 4096}) == 6
    assert billed_ms(OpUsage(0, 0, 0, 0, 0, 0, 0), A) == 0


def test_per_user_minute_by_hand() -> None:
    lines = per_user_minute(OPS, MIX, PRICES, A, bytes_per_user=GB / 1000)
    assert set(lines) == set(LINES)
    # messages: 0.5 x (1 in + 2 out) + 6 x (1 + 1) = 13.5 at $1 per million
    assert lines["API Gateway messages"] == pytest.approx(13.5e-6)
    # one connection minute per active minute
    assert lines["API Gateway connection minutes"] == pytest.approx(0.25e-6)
    # 6.5 invocations at $0.20 per million
    assert lines["Lambda requests"] == pytest.approx(1.3e-6)
    # (0.5 x 10 ms + 6 x 6 ms) = 41 ms at 1 GB = 0.041 GB-s at $0.00001
    assert lines["Lambda duration"] == pytest.approx(4.1e-7)
    # 0.5 x 10 + 6 x 5 = 35 ECPUs at $0.002 per million
    assert lines["ElastiCache ECPU"] == pytest.approx(7e-8)
    # 1/1000 GB for 1/60 hour at $0.06 per GB-hour
    assert lines["ElastiCache storage"] == pytest.approx(1e-6)
    # 0.5 x (2000 + 2 x 24) + 6 x (1000 + 24) = 7168 bytes = 7 / 1024**2 GB at $1
    assert lines["NAT data processed"] == pytest.approx(7 / 1024**2)


def test_scaling_to_chats_and_user_hours() -> None:
    lines = {"x": 1e-6}
    # 0.5 chats per user-minute: 1,000 chats take 2,000 user-minutes
    assert per_1000_chats(lines, MIX)["x"] == pytest.approx(2e-3)
    assert per_1000_user_hours(lines)["x"] == pytest.approx(0.06)


def test_fixed_costs_per_hour() -> None:
    fixed = fixed_per_hour(PRICES, A)
    assert fixed["NAT gateway hours"] == pytest.approx(0.10)
    assert fixed["ElastiCache minimum storage (100 MB)"] == pytest.approx(0.006)


def test_direct_chat_swaps_relayed_messages_for_signaling() -> None:
    ops, mix = direct_chat(OPS, MIX, A)
    assert "send" not in mix
    # both relayed-message operations of the mix leave it
    assert "send_renew" not in direct_chat(OPS, {**MIX, "send_renew": 1.0}, A)[1]
    assert mix["signal"] == 5  # 10 per chat, 0.5 chats per user-minute
    assert mix["join_match"] == 0.5
    # a relayed message stands in, its frame grown from 100 to 1100 bytes
    assert ops["signal"].post_bytes == 2000
    assert ops["signal"].posts == SEND.posts
    # a measured signal operation is used as is
    own = OpUsage(1, 1, 1, 0.1, 1, 1, 5000)
    assert direct_chat({**OPS, "signal": own}, MIX, A)[0]["signal"] is own
    # messages: 0.5 x 3 + 5 x 2 = 11.5 instead of 13.5
    lines = per_user_minute(*direct_chat(OPS, MIX, A), PRICES, A, bytes_per_user=0)
    assert lines["API Gateway messages"] == pytest.approx(11.5e-6)


def test_levers_are_sorted_by_saving_and_the_heartbeat_lever_halves_heartbeats() -> None:
    hb = OpUsage(
        inbound=1, posts=1, invocations=1, handler_ms=0.5, scripts=1, ecpu=3, post_bytes=900
    )
    ops, mix = {**OPS, "heartbeat_room": hb}, {**MIX, "heartbeat_room": 2.0}
    found = levers(ops, mix, PRICES, A, bytes_per_user=0)
    savings = [lv.saving for lv in found]
    assert savings == sorted(savings, reverse=True)
    base = sum(per_user_minute(ops, mix, PRICES, A, 0).values())
    half = sum(per_user_minute(ops, {**mix, "heartbeat_room": 1.0}, PRICES, A, 0).values())
    lever = next(lv for lv in found if lv.name.startswith("heartbeat every 60 s"))
    assert lever.saving == pytest.approx(1 - half / base)
    assert 0 < lever.saving < 1


def test_the_prices_file_cites_and_dates_every_price() -> None:
    cfg = load_config()
    for name, p in cfg.prices.items():
        assert p.source.startswith("https://"), name
        datetime.date.fromisoformat(p.retrieved)
        assert p.usd > 0 and p.per > 0 and p.unit, name
        assert p.confirmed or p.note, f"{name}: an unconfirmed price must say where it came from"
    assert math.isclose(sum(v for k, v in cfg.mix.items() if k.startswith("join")), 1.0)
