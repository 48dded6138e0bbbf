"""Bots keep under the server's sliding-window limits (pairchat_tools.pacing).

The server's check is ported from lua/common.lua ``rate_allows`` and run over every window
alignment: events spaced by ``Limits.spacing`` are never refused, and a gap just one event
per window tighter is, so the check can fail.
"""

from __future__ import annotations

import math

import pytest

from pairchat_tools.pacing import UNPACED, Limits, Pacer, limits_for


def refusals(times_s: list[float], limit: int, window_s: float) -> int:
    """How many of ``times_s`` lua/common.lua's rate_allows would refuse (refused events are
    not recorded, as in the script)."""
    window_ms = int(window_s * 1000)
    counts: dict[int, int] = {}
    refused = 0
    for t in times_s:
        now = int(t * 1000)
        idx = now // window_ms
        prev, cur = counts.get(idx - 1, 0), counts.get(idx, 0)
        overlap = 1 - (now % window_ms) / window_ms
        if prev * overlap + cur + 1 > limit:
            refused += 1
            continue
        counts[idx] = cur + 1
    return refused


def evenly(gap_s: float, n: int, offset_s: float) -> list[float]:
    return [offset_s + i * gap_s for i in range(n)]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 20, 60])
def test_spacing_is_never_refused_at_any_window_alignment(limit: int) -> None:
    window = 60.0
    gap = Limits.spacing(limit, window)
    for step in range(240):  # window alignments a quarter second apart
        offset = step * window / 240
        assert refusals(evenly(gap, 4 * limit + 8, offset), limit, window) == 0, (limit, offset)


@pytest.mark.parametrize("limit", [3, 5, 20, 60])
def test_a_tighter_gap_is_refused_somewhere(limit: int) -> None:
    """The server's estimate is stricter than a true sliding window: limit per window, evenly
    spaced, is already too fast for some alignment."""
    window = 60.0
    gap = window / limit
    assert any(
        refusals(evenly(gap, 4 * limit + 8, step * window / 240), limit, window)
        for step in range(240)
    )


def test_no_limit_no_pacing_and_a_pacer_books_gaps() -> None:
    assert Limits.spacing(0, 60) == 0
    assert UNPACED.join_gap_s == UNPACED.message_gap_s == 0
    pacer = Pacer(Limits(20, 60, 60))
    first, second = pacer.join_at(), pacer.join_at()
    assert math.isclose(second - first, Limits.spacing(20, 60))
    assert pacer.message_at(5.0) == 5.0 and pacer.message_at(5.0) > 6.0


def test_limits_argument() -> None:
    assert limits_for("off", "ws://x/ws") is UNPACED
    limits = limits_for("5,7,10", "ws://x/ws")
    assert (limits.joins, limits.messages, limits.window_s) == (5, 7, 10.0)
    # No dev stack serves this URL (the tests' XDG_RUNTIME_DIR is private): product defaults.
    auto = limits_for("auto", "ws://127.0.0.1:1/ws")
    assert (auto.joins, auto.messages, auto.window_s) == (20, 60, 60.0)
    for bad in ("5,7", "a,b,c", "1,1,0", "-1,2,3"):
        with pytest.raises(SystemExit):
            limits_for(bad, "ws://x/ws")


def test_a_huge_limit_is_no_pacing() -> None:
    """make bench starts the stack with limits of 10^9: the bots must not slow down."""
    assert Limits.spacing(1_000_000_000, 60) < 1e-6
