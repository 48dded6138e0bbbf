"""The read model's arithmetic: nearest-rank percentiles and window summaries."""

from __future__ import annotations

from pairchat_ops.readmodel import percentile, summarize, window


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.5) == 5.0
    assert percentile(values, 0.9) == 9.0
    assert percentile(values, 1.0) == 10.0
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([], 0.5) is None


def test_summaries_sort_and_count() -> None:
    p = summarize([300.0, 100.0, 200.0])
    assert (p.samples, p.median_ms, p.p90_ms) == (3, 200.0, 300.0)
    empty = summarize([])
    assert (empty.samples, empty.median_ms, empty.p90_ms) == (0, None, None)


def test_window_separates_waiters_from_joiners() -> None:
    # match.lua pushes (waiter's wait, joiner's 0) per match into each minute's list
    w = window(2.6, [[1000.0, 0.0, 3000.0, 0.0], [500.0, 0.0]])
    assert w.matches == 3
    assert w.wait.samples == 6 and w.wait.median_ms == 0.0
    assert w.waiter_wait.samples == 3 and w.waiter_wait.median_ms == 1000.0
    assert w.waiter_wait.p90_ms == 3000.0
