"""``pairchat bots``' interests: who gives which, and the check of every pair."""

from __future__ import annotations

import argparse
import math
import random
from collections import Counter

import pytest

from pairchat_tools import bot_interests
from pairchat_tools.bot_interests import InterestStats, Match, Profile, draw_profile
from pairchat_tools.bots import percentile


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bot_interests.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_give_no_bot_interests_and_send_no_new_fields() -> None:
    args = parse()
    rng = random.Random(1)
    state = rng.getstate()
    profiles = {draw_profile(args, rng) for _ in range(100)}
    assert profiles == {bot_interests.NO_INTERESTS}
    assert rng.getstate() == state  # the bots' random choices are the same as without interests
    assert bot_interests.NO_INTERESTS.join_fields() == {}


def test_vocabulary_is_normalized_like_the_server_and_keeps_its_order() -> None:
    args = parse("--interests-vocab", " Jazz  Piano ,MUSIC,music,Straße")
    assert args.interests_vocab == ("jazz piano", "music", "strasse")
    for bad in ("a,b!", ",", "x" * 33):
        with pytest.raises(SystemExit):
            parse("--interests-vocab", bad)
    assert parse("--interests-per-bot", "2").interests_per_bot == (2, 2)
    for bad in ("0", "3-2", "1-6", "x"):
        with pytest.raises(SystemExit):
            parse("--interests-per-bot", bad)
    with pytest.raises(SystemExit):
        parse("--interest-share", "1.5")


def test_profiles_follow_the_share_the_count_and_a_zipf_popularity() -> None:
    args = parse("--interest-share", "0.5", "--interests-per-bot", "1-3", "--no-fallback", "0.25")
    rng = random.Random(7)
    profiles = [draw_profile(args, rng) for _ in range(4000)]
    given = [p for p in profiles if p.interests]
    assert 0.45 < len(given) / len(profiles) < 0.55
    assert {len(p.interests) for p in given} == {1, 2, 3}
    assert all(list(p.interests) == sorted(set(p.interests)) for p in given)
    assert 0.2 < sum(not p.fallback for p in given) / len(given) < 0.3
    counts = Counter(word for p in given for word in p.interests)
    vocab = bot_interests.DEFAULT_VOCAB
    # The most popular word is picked far more often than the least popular one.
    assert counts[vocab[0]] > 3 * counts[vocab[-1]] > 0
    assert Profile(("chess",), False).join_fields() == {"interests": ["chess"], "fallback": False}
    flat = parse("--interest-share", "1", "--interests-zipf", "0", "--interests-per-bot", "1")
    uniform = Counter(draw_profile(flat, rng).interests[0] for _ in range(4000))
    assert max(uniform.values()) < 2 * min(uniform.values())


def side(
    interests: tuple[str, ...],
    common: tuple[str, ...],
    relaxed: bool,
    fallback: bool = True,
    wait_ms: float = 5.0,
) -> Match:
    return Match(Profile(interests, fallback), common, relaxed, wait_ms)


def test_every_pair_is_checked_against_the_protocol() -> None:
    stats = InterestStats()
    ok = [
        (side(("chess", "music"), ("music",), False), side(("music",), ("music",), False)),
        (side((), (), False), side((), (), False)),
        (side(("chess",), (), True, wait_ms=3100.0), side((), (), True)),
    ]
    for a, b in ok:
        stats.matched(a)
        stats.matched(b)
        stats.paired(a, b)
    assert stats.violations == 0
    assert (stats.pairs, stats.pairs_with_interests, stats.sharing, stats.relaxed) == (3, 2, 1, 1)
    assert stats.relaxed_min_wait_ms == 3100.0
    bad = [
        # the sides were told different things
        (side(("music",), ("music",), False), side(("music",), (), False)),
        # commonInterests is not the intersection
        (side(("a", "b"), ("a",), False), side(("a", "b"), ("a",), False)),
        # no shared interest, someone gave interests, not relaxed
        (side(("chess",), (), False), side((), (), False)),
        # relaxed without interests on either side
        (side((), (), True), side((), (), True)),
        # a bot that refused the fallback paired without a shared interest
        (side(("chess",), (), True, fallback=False), side((), (), True)),
    ]
    for a, b in bad:
        before = stats.violations
        stats.paired(a, b)
        assert stats.violations == before + 1, (a, b)


def test_summary_reports_waits_per_kind_and_the_estimate() -> None:
    stats = InterestStats()
    for profile, wait in ((Profile(), 10.0), (Profile(("x",)), 200.0), (Profile(("x",)), 400.0)):
        stats.joined(profile)
        stats.matched(Match(profile, (), False, wait))
    stats.joined(Profile(("y",), False))
    stats.gave_up(Profile(("y",), False))
    stats.told_eta(1000.0, 1500.0)  # within 2x
    stats.told_eta(1000.0, 5000.0)  # not
    summary = stats.summary(
        lambda v: {
            "count": len(v),
            "p50": percentile(v, 50),
            "p90": percentile(v, 90),
            "p99": percentile(v, 99),
        }
    )
    kinds = summary["kinds"]
    assert kinds["without_interests"]["wait_ms"]["p50"] == 10.0
    assert kinds["with_interests"]["wait_ms"]["p99"] == 400.0
    assert kinds["with_interests"]["matches"] == 2
    no_fallback = kinds["with_interests_no_fallback"]
    assert (no_fallback["joins"], no_fallback["matches"], no_fallback["gave_up"]) == (1, 0, 1)
    assert no_fallback["wait_ms"]["count"] == 0 and math.isnan(no_fallback["wait_ms"]["p50"])
    assert summary["eta"]["samples"] == 2 and summary["eta"]["within_2x"] == 0.5
    rows = dict(bot_interests.report_rows(summary, lambda v: f"{v:.0f} ms"))
    assert "time to match, with interests" in rows and "etaMs vs the wait" in rows
