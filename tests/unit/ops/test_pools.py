"""Wait percentiles over every pool weight each pool's samples by its match count."""

from __future__ import annotations

from pairchat_ops.pools import weighted_summary


def test_equal_weights_are_the_plain_nearest_rank_percentiles() -> None:
    s = weighted_summary([(float(v), 1.0) for v in range(1, 11)])
    assert (s.samples, s.median_ms, s.p90_ms) == (10, 5.0, 9.0)
    assert weighted_summary([]).median_ms is None


def test_a_busy_pool_outweighs_a_quiet_one_with_as_many_samples() -> None:
    """Pool A made 90 matches, pool B 10; each contributed 5 samples. Unweighted, the median
    would sit between them; weighted, it is A's."""
    busy = [(100.0 + i, 90 / 5) for i in range(5)]
    quiet = [(10_000.0 + i, 10 / 5) for i in range(5)]
    s = weighted_summary(busy + quiet)
    assert s.median_ms is not None and s.median_ms < 200
    assert s.p90_ms is not None and s.p90_ms < 200  # 90 % of the weight is A's
    assert weighted_summary(busy + quiet + [(1e6, 0.0)]).samples == 10  # no weight, not kept
