"""How ``pairchat bots`` keeps under a server's per-user rate limits.

The README's ``pairchat bots --count 200 --duration 30`` against a default ``pairchat dev``
used to collect over a thousand ``rate_limited`` refusals: a bot that chats for a second and
moves on wants a join every second or two, and the product allows 20 joins+nexts and 60
messages per user per minute. So bots pace themselves, each under the server's limits, which
they learn from the dev stack's state file (:mod:`pairchat_tools.devstate`) or ``--limits``.
Pacing rather than a dev stack with looser limits keeps ``pairchat dev`` the product.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """A server's per-user limits: at most ``joins`` joins+nexts and ``messages`` sends per
    ``window_s`` (0: that one is unlimited)."""

    joins: int
    messages: int
    window_s: float
    source: str = ""

    @staticmethod
    def spacing(limit: int, window_s: float) -> float:
        """The gap between two events that the server's sliding window always admits.

        The server (lua/common.lua ``rate_allows``) refuses an event when ``prev * (1 - f) +
        cur + 1 > limit``: ``prev`` and ``cur`` count the previous and current fixed windows,
        ``f`` is how far into the current one we are. With events at least ``window / k``
        apart, ``prev <= k`` and ``cur <= floor(f * k) + 1``, so the estimate stays below
        ``k + 1``: ``k = limit - 2`` never trips it. Limits of 1 and 2 need one event per 2
        and 1 windows. A margin covers the gap between our send and the server's clock.
        """
        if limit <= 0:
            return 0.0
        gap = window_s / (limit - 2) if limit > 2 else window_s * (3 - limit)
        return gap * 1.05 + min(0.05, gap)  # no floor for a huge limit (make bench)

    @property
    def join_gap_s(self) -> float:
        return self.spacing(self.joins, self.window_s)

    @property
    def message_gap_s(self) -> float:
        return self.spacing(self.messages, self.window_s)

    def describe(self) -> str:
        def one(n: int, what: str) -> str:
            return f"{n} {what}" if n > 0 else f"unlimited {what}"

        return (
            f"{one(self.joins, 'joins+nexts')} and {one(self.messages, 'messages')} "
            f"per {self.window_s:g} s per user"
        )


#: ``--limits off``: no pacing at all.
UNPACED = Limits(0, 0, 60.0, "--limits off")


def limits_for(spec: str, url: str) -> Limits:
    """``--limits``: ``off``, ``J,M,S``, or ``auto`` (the dev stack's at ``url``, else the
    product's defaults)."""
    if spec == "off":
        return UNPACED
    if spec != "auto":
        try:
            joins, messages, window = spec.split(",")
            limits = Limits(int(joins), int(messages), float(window), "--limits")
        except ValueError:
            raise SystemExit(f"--limits expects off, auto or J,M,S; got {spec!r}") from None
        if limits.joins < 0 or limits.messages < 0 or limits.window_s <= 0:
            raise SystemExit(f"--limits expects non-negative limits and a window > 0: {spec!r}")
        return limits
    from pairchat.settings import Settings
    from pairchat_tools import devstate

    stack = devstate.find(ws_url=url)
    if stack is not None:
        return Limits(
            stack.rate_joins,
            stack.rate_messages,
            float(stack.rate_window_s),
            f"those of the pairchat dev stack at {stack.ws_url}, pid {stack.pid}",
        )
    d = Settings()
    return Limits(
        d.rate_joins,
        d.rate_messages,
        float(d.rate_window_s),
        "the product's defaults; --limits J,M,S if the server has others",
    )


class Pacer:
    """One bot's earliest next join and next message (per bot, not per connection: with
    token auth one person keeps its limits across sockets)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.next_join = 0.0
        self.next_message = 0.0

    def join_at(self) -> float:
        """When the next join may go; books it."""
        at = max(time.perf_counter(), self.next_join)
        self.next_join = at + self.limits.join_gap_s
        return at

    def message_at(self, wanted: float) -> float:
        """When a message meant for ``wanted`` may go; books it."""
        at = max(wanted, self.next_message)
        self.next_message = at + self.limits.message_gap_s
        return at
