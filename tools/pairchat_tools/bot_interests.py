"""Interests for ``pairchat bots``: which bots give which interests, and what the matches show.

A bot is one person for the whole run: with probability ``--interest-share`` it gives
interests, a few words drawn without replacement from ``--interests-vocab`` with a Zipf
popularity (the k-th word is picked with weight 1/k^s, ``--interests-zipf``), and with
probability ``--no-fallback`` (of those) it waits for a shared interest only. Bots without
interests send neither field, so a run without these flags sends the same frames as before.

Every pair is checked against docs/protocol.md: both sides are told the same
``commonInterests``, which is the intersection of what the two bots gave (normalized as the
server does); ``relaxed`` is set exactly when someone who gave interests was paired without a
shared one; a bot that refused the fallback is never paired without one. A violation fails the
run like an incompatible pair does.

Reported per kind of bot (without interests, with interests, with interests and no fallback):
joins, matches, give-ups and the time to match (join -> its own ``matched``, every match: one
made at once counts its round trip). Also how many matches shared an interest, how many were
relaxed, the shortest wait of a user who gave interests in a relaxed match (it should not be
below ``MATCH_RELAX_SECONDS``), and how the first ``etaMs`` a waiting bot was told compares with
the wait it then had. :class:`QueueClock` keeps a waiting bot's heartbeat on the server's
``retryMs``, as the chat page does, so fallback matches happen when they are due.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pairchat.domain.protocol import MAX_INTERESTS, normalize_interest

#: Popular first: with the Zipf weights, "music" is picked about twice as often as "movies".
DEFAULT_VOCAB = (
    "music",
    "movies",
    "gaming",
    "travel",
    "books",
    "sports",
    "art",
    "cooking",
    "anime",
    "fitness",
    "tech",
    "photography",
    "science",
    "pets",
    "fashion",
    "history",
    "languages",
    "chess",
    "hiking",
    "jazz",
)

KINDS = ("without_interests", "with_interests", "with_interests_no_fallback")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("interests (docs/protocol.md: interests and fallback)")
    group.add_argument(
        "--interest-share",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of bots that give interests (default 0: nobody does)",
    )
    group.add_argument(
        "--interests-vocab",
        type=_vocabulary,
        default=DEFAULT_VOCAB,
        metavar="A,B,...",
        help="the words interests are drawn from, most popular first "
        f"(default: {len(DEFAULT_VOCAB)} common ones, {DEFAULT_VOCAB[0]} first)",
    )
    group.add_argument(
        "--interests-per-bot",
        type=_count_range,
        default=(1, 3),
        metavar="N|MIN-MAX",
        help=f"how many interests a bot gives, uniformly in MIN-MAX (default 1-3; at most "
        f"{MAX_INTERESTS})",
    )
    group.add_argument(
        "--interests-zipf",
        type=float,
        default=1.0,
        metavar="S",
        help="popularity skew: the k-th word has weight 1/k^S (default 1; 0: all equal)",
    )
    group.add_argument(
        "--no-fallback",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of the bots with interests that wait for a shared one only "
        "(fallback false; default 0)",
    )


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _vocabulary(text: str) -> tuple[str, ...]:
    """Normalized as the server normalizes, duplicates dropped, order (popularity) kept."""
    words: list[str] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        word = normalize_interest(raw)
        if word is None:
            raise argparse.ArgumentTypeError(
                f"{raw.strip()!r} is not a valid interest (1 to 32 letters, digits, spaces, - or _)"
            )
        if word not in words:
            words.append(word)
    if not words:
        raise argparse.ArgumentTypeError("the vocabulary needs at least one word")
    return tuple(words)


def _count_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or MIN-MAX") from None
    if not 1 <= lo <= hi <= MAX_INTERESTS:
        raise argparse.ArgumentTypeError(f"{text!r}: need 1 <= MIN <= MAX <= {MAX_INTERESTS}")
    return lo, hi


@dataclass(frozen=True)
class Profile:
    """What one bot asks for: its interests (normalized, sorted) and its fallback."""

    interests: tuple[str, ...] = ()
    fallback: bool = True

    @property
    def kind(self) -> str:
        if not self.interests:
            return KINDS[0]
        return KINDS[1] if self.fallback else KINDS[2]

    def join_fields(self) -> dict[str, Any]:
        """The fields a join/next carries; none at all for a bot without interests."""
        if not self.interests:
            return {}
        return {"interests": list(self.interests), "fallback": self.fallback}


NO_INTERESTS = Profile()


def draw_profile(args: argparse.Namespace, rng: random.Random) -> Profile:
    if args.interest_share <= 0 or rng.random() >= args.interest_share:
        return NO_INTERESTS
    vocab: Sequence[str] = args.interests_vocab
    lo, hi = args.interests_per_bot
    count = min(rng.randint(lo, hi), len(vocab))
    weights = [1.0 / (rank**args.interests_zipf) for rank in range(1, len(vocab) + 1)]
    chosen: set[str] = set()
    while len(chosen) < count:
        # Without replacement: pick among the words not chosen yet, by their weights.
        left = [(w, word) for w, word in zip(weights, vocab, strict=True) if word not in chosen]
        chosen.add(rng.choices([word for _, word in left], [w for w, _ in left])[0])
    return Profile(tuple(sorted(chosen)), fallback=rng.random() >= args.no_fallback)


class QueueClock:
    """While a bot is queued: when to heartbeat next (``retryMs`` of the last ``queued`` or
    ``pong``; never when the server sends none) and the first ``etaMs`` it was told."""

    def __init__(self) -> None:
        self.beat_at = math.inf
        #: (etaMs, when it was told)
        self.eta: tuple[float, float] | None = None

    def told(self, frame: dict[str, Any]) -> None:
        now = time.perf_counter()
        retry = frame.get("retryMs")
        if (
            isinstance(retry, int | float)
            and retry > 0
            and frame.get("state", "queued") == "queued"
        ):
            self.beat_at = now + max(retry, 50) / 1000
        eta = frame.get("etaMs")
        if self.eta is None and isinstance(eta, int | float):
            self.eta = (float(eta), now)


@dataclass
class Match:
    """One side's view of a new room: what it asked for and what ``matched`` said."""

    profile: Profile
    common: tuple[str, ...]
    relaxed: bool
    wait_ms: float


def match_of(profile: Profile, frame: dict[str, Any], wait_ms: float) -> Match:
    common = frame.get("commonInterests")
    return Match(
        profile,
        tuple(str(c) for c in common) if isinstance(common, list) else (),
        frame.get("relaxed") is True,
        wait_ms,
    )


@dataclass
class _Kind:
    joins: int = 0
    matches: int = 0
    gave_up: int = 0
    wait_ms: list[float] = field(default_factory=list)


@dataclass
class InterestStats:
    kinds: dict[str, _Kind] = field(default_factory=lambda: {k: _Kind() for k in KINDS})
    pairs: int = 0
    #: Pairs in which at least one side gave interests.
    pairs_with_interests: int = 0
    sharing: int = 0
    relaxed: int = 0
    #: The shortest wait of a user who gave interests, in a relaxed pair.
    relaxed_min_wait_ms: float = math.inf
    violations: int = 0
    #: (the first etaMs a waiting bot was told, the wait from then until its matched)
    eta_pairs: list[tuple[float, float]] = field(default_factory=list)

    def joined(self, profile: Profile) -> None:
        self.kinds[profile.kind].joins += 1

    def gave_up(self, profile: Profile) -> None:
        self.kinds[profile.kind].gave_up += 1

    def told_eta(self, eta_ms: float, waited_ms: float) -> None:
        self.eta_pairs.append((eta_ms, waited_ms))

    def matched(self, side: Match) -> None:
        kind = self.kinds[side.profile.kind]
        kind.matches += 1
        kind.wait_ms.append(side.wait_ms)

    def paired(self, a: Match, b: Match) -> None:
        """Both sides of one room are in: count it and check it against the protocol."""
        self.pairs += 1
        gave = [m for m in (a, b) if m.profile.interests]
        shared = tuple(sorted(set(a.profile.interests) & set(b.profile.interests)))
        if gave:
            self.pairs_with_interests += 1
        if a.common:
            self.sharing += 1
        if a.relaxed:
            self.relaxed += 1
            for m in gave:
                self.relaxed_min_wait_ms = min(self.relaxed_min_wait_ms, m.wait_ms)
        if (
            a.common != b.common
            or a.common != shared
            or a.relaxed != b.relaxed
            or a.relaxed != bool(gave and not shared)
            or any(not m.profile.fallback and not shared for m in gave)
        ):
            self.violations += 1

    def summary(self, pct: Callable[[list[float]], dict[str, float | int]]) -> dict[str, Any]:
        ratios = sorted(waited / eta for eta, waited in self.eta_pairs if eta > 0)
        within = sum(1 for eta, waited in self.eta_pairs if _within_2x(eta, waited))
        return {
            "matches_sharing_interest": self.sharing,
            "matches_with_interests": self.pairs_with_interests,
            "sharing_share": self.sharing / self.pairs if self.pairs else math.nan,
            "relaxed_matches": self.relaxed,
            "relaxed_min_wait_ms": (
                self.relaxed_min_wait_ms if math.isfinite(self.relaxed_min_wait_ms) else math.nan
            ),
            "interest_rule_violations": self.violations,
            "kinds": {
                name: {
                    "joins": k.joins,
                    "matches": k.matches,
                    "gave_up": k.gave_up,
                    "wait_ms": pct(k.wait_ms),
                }
                for name, k in self.kinds.items()
                if k.joins
            },
            "eta": {
                "samples": len(self.eta_pairs),
                "within_2x": within / len(self.eta_pairs) if self.eta_pairs else math.nan,
                "median_wait_over_eta": ratios[len(ratios) // 2] if ratios else math.nan,
            },
        }


def _within_2x(eta_ms: float, waited_ms: float) -> bool:
    """Within a factor 2 either way; waits under 1 s count as met by an estimate under 2 s."""
    if waited_ms < 1000:
        return eta_ms < 2000
    return waited_ms / 2 <= eta_ms <= waited_ms * 2


def report_rows(summary: dict[str, Any], ms: Callable[[float], str]) -> list[tuple[str, str]]:
    """Rows for the bots' table; none when no bot gave interests."""
    s = summary
    if set(s["kinds"]) <= {KINDS[0]}:
        return []
    share = s["sharing_share"]
    rows = [
        (
            "sharing an interest",
            f"{s['matches_sharing_interest']} of {s['matches_with_interests']} matches where "
            "someone gave interests" + ("" if math.isnan(share) else f" ({share:.0%} of all)"),
        ),
        (
            "relaxed (fallback)",
            f"{s['relaxed_matches']}"
            + (
                ""
                if math.isnan(s["relaxed_min_wait_ms"])
                else f", the earliest after {s['relaxed_min_wait_ms'] / 1000:.1f} s"
            ),
        ),
    ]
    for name, k in s["kinds"].items():
        p = k["wait_ms"]
        rows.append(
            (
                f"time to match, {name.replace('_', ' ')}",
                f"p50 {ms(p['p50'])}  p90 {ms(p['p90'])}  p99 {ms(p['p99'])}  "
                f"({k['matches']} of {k['joins']} joins, {k['gave_up']} gave up)",
            )
        )
    eta = s["eta"]
    if eta["samples"]:
        rows.append(
            (
                "etaMs vs the wait",
                f"{eta['within_2x']:.0%} within 2x, median wait/eta "
                f"{eta['median_wait_over_eta']:.2f} (n={eta['samples']})",
            )
        )
    return rows
