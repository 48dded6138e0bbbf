"""The text filter's cost per ``send`` (issue 13): p50 and p99 of ``TextFilter.apply`` on a
500-character message, with the stock configuration (TEXT_FILTER=mask, the library's English
list). Target: p50 under 50 us. Three messages: clean English (the common case), the same
with one listed word near the end (the masking path), and accented text (the non-ASCII path).
"""

from __future__ import annotations

import random
import time

from bench.common import Metric, percentile, standalone
from pairchat.adapters.wordlists import text_filter_from_settings
from pairchat.settings import Settings

TARGET_US = 50.0
ROUNDS = 20_000
_TEXT = (
    "hey hi hello how are you doing today i am fine thanks what about you where are you from "
    "i like music movies and long walks do you play games nice to meet you that is cool haha "
    "really what do you think about it tell me more i have to go soon see you later"
)
_VOCAB = _TEXT.split()


def message(rng: random.Random, chars: int = 500) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(_VOCAB))
    return " ".join(words)[:chars]


def _timings(apply: object, text: str, rounds: int) -> list[float]:
    fn = apply  # local for speed
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        fn(text)  # type: ignore[operator]
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def run(rounds: int = ROUNDS) -> list[Metric]:
    f = text_filter_from_settings(Settings())
    rng = random.Random(13)
    clean = message(rng)
    dirty = clean[:-12] + " you a$$hole"
    accented = clean.replace("e", "é").replace("a", "à")
    assert f.apply(clean) is clean and "*" in f.apply(dirty) and len(dirty) == 500
    metrics = []
    for name, text in (("clean", clean), ("one hit, masked", dirty), ("accented", accented)):
        _timings(f.apply, text, 2000)  # warm up
        values = _timings(f.apply, text, rounds)
        p50 = percentile(values, 50)
        metrics.append(
            Metric(
                "textfilter",
                f"filter 500 chars, {name} (p50)",
                p50,
                "us",
                limit=TARGET_US,
                limit_name="us target",
                target="<= 1",
                details={"p99_us": percentile(values, 99), "rounds": rounds, "words": len(f)},
            ).judge()
        )
    return metrics


if __name__ == "__main__":
    standalone(run)
