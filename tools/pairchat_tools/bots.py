"""``pairchat bots``: simulated users, and the load generator for the performance work.

Over 400 lines on purpose: one bot's life (connect, join, chat, move on, reconnect) is one
state machine; pacing (pacing.py) and interests (bot_interests.py) live apart.

One asyncio process drives every bot (uvloop when installed): each connects, joins with a
random gender and preference, chats, then moves on (``next``), leaves and rejoins, or hangs
up and reconnects. At the end it prints matches per second and latency percentiles:

- **join→matched**: from the join (or next) that completed a pair until *both* users had
  their ``matched`` frame: what the system adds, whatever the queue looked like.
- **queue wait**: from a user's join until its ``matched``, for users who waited: that
  depends on who else is online, not on the system.
- **message relay**: from a ``send`` until the partner has the ``message``.

All bots share one process, so pairs are checked too: both sides of a room must be mutually
compatible, in the same pool, and nobody may be in two rooms at once; violations are counted
and fail the run. ``--pools en,es`` spreads the bots over pools (``?pool=`` on each socket),
so each pool gets both genders, and reports matches per pool.

Bots can give interests (``--interest-share``; :mod:`pairchat_tools.bot_interests` draws them
and checks and reports what the matches show). While queued a bot heartbeats every ``retryMs``
of its last ``queued``/``pong``, as the chat page does, so fallback matches happen on time.
Each bot keeps under the server's per-user rate limits (:class:`Pacer`): the limits of the
``pairchat dev`` stack serving ``--url`` (its state file says them), else the product's
defaults, or ``--limits``. A bot that is refused ``rate_limited`` anyway says so once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pairchat.domain.keys import GENDERS, PREFERENCES, compatible
from pairchat_tools import bot_interests
from pairchat_tools.pacing import UNPACED, Pacer, limits_for
from pairchat_tools.rlimit import raise_fd_limit

_PHRASES = (
    "hi there",
    "hey! how's it going?",
    "where are you from?",
    "what are you up to today?",
    "nice to meet you",
    "any good books lately?",
    "haha same",
    "gotta run, bye!",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="ws://127.0.0.1:3001/ws", help="WebSocket URL")
    parser.add_argument("--count", type=int, default=20, help="simultaneous users")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="keep chatting for S seconds (default: each bot chats once, then stops)",
    )
    parser.add_argument(
        "--ramp", type=float, default=None, metavar="S", help="spread the connects over S seconds"
    )
    parser.add_argument(
        "--messages", type=int, default=3, help="at most this many messages per chat"
    )
    parser.add_argument(
        "--think-ms", type=float, default=200.0, help="mean pause before each message"
    )
    parser.add_argument(
        "--patience", type=float, default=10.0, metavar="S", help="give up waiting after S s"
    )
    parser.add_argument(
        "--preferences",
        choices=("random", "pairs"),
        default="random",
        help="random: any gender/preference; pairs: only male->female and female->male "
        "(everyone can be paired)",
    )
    parser.add_argument(
        "--pools",
        default="",
        metavar="A,B",
        help="spread the bots over these pools (?pool=; default: the server's default pool)",
    )
    parser.add_argument(
        "--limits",
        default="auto",
        metavar="J,M,S",
        help="the server's per-user limits to keep under: J joins+nexts and M messages per S "
        "seconds (0: no limit), or 'off' to send without pacing (a server with no limits); "
        "default 'auto': the running `pairchat dev` stack's at --url, else the product's "
        "20,60,60",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    bot_interests.add_arguments(parser)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Receipt:
    bot: int
    gender: str
    preference: str
    sent_at: float
    received_at: float
    pool: str = ""
    match: bot_interests.Match | None = None


@dataclass
class Stats:
    started: float = field(default_factory=time.perf_counter)
    connects: int = 0
    connect_failures: int = 0
    joins: int = 0
    matches: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    gave_up: int = 0
    internal_errors: int = 0
    unexpected_closes: int = 0
    incompatible_pairs: int = 0
    #: A room whose two users connected to different pools: must never happen.
    cross_pool_pairs: int = 0
    matches_by_pool: Counter[str] = field(default_factory=Counter)
    double_matches: int = 0
    misdelivered: int = 0
    #: A ``matched`` that reached a bot while it was chatting in another room.
    matched_in_room: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    #: Called once, on the first ``rate_limited`` frame (prints the explanation).
    on_limited: Any = None
    pair_ms: list[float] = field(default_factory=list)
    #: send -> the partner's receipt, per message.
    relay_ms: list[float] = field(default_factory=list)
    #: message tag -> when it was sent, until its receipt.
    in_flight: dict[str, float] = field(default_factory=dict)
    wait_ms: list[float] = field(default_factory=list)
    done_bots: int = 0
    #: roomId -> the first side's receipt, until the second arrives.
    rooms: dict[str, _Receipt] = field(default_factory=dict)
    #: bot -> the room it is in now.
    current: dict[int, str] = field(default_factory=dict)
    interests: bot_interests.InterestStats = field(default_factory=bot_interests.InterestStats)

    def matched(self, room: str, receipt: _Receipt, waited: bool) -> None:
        if waited:
            self.wait_ms.append((receipt.received_at - receipt.sent_at) * 1000)
        if receipt.bot in self.current:
            self.double_matches += 1
        self.current[receipt.bot] = room
        if receipt.match is not None:
            self.interests.matched(receipt.match)
        other = self.rooms.pop(room, None)
        if other is None:
            self.rooms[room] = receipt
            return
        self.matches += 1
        self.matches_by_pool[receipt.pool] += 1
        if other.pool != receipt.pool:
            self.cross_pool_pairs += 1
        if other.match is not None and receipt.match is not None:
            self.interests.paired(other.match, receipt.match)
        if other.bot == receipt.bot or not compatible(
            other.gender, other.preference, receipt.gender, receipt.preference
        ):
            self.incompatible_pairs += 1
        # The pair was made by the later join; it is done when both have been told.
        joined = max(other.sent_at, receipt.sent_at)
        told = max(other.received_at, receipt.received_at)
        self.pair_ms.append((told - joined) * 1000)

    def received(self, frame: dict[str, Any]) -> None:
        self.messages_received += 1
        text = frame.get("text")
        if isinstance(text, str) and "#" in text:
            sent = self.in_flight.pop(text.rsplit("#", 1)[1], None)
            if sent is not None:
                self.relay_ms.append((time.perf_counter() - sent) * 1000)

    def forget_undelivered(self, older_than_s: float) -> None:
        """Messages whose partner left before they arrived are never received."""
        cutoff = time.perf_counter() - older_than_s
        self.in_flight = {k: t for k, t in self.in_flight.items() if t >= cutoff}

    def left(self, bot: int) -> None:
        self.current.pop(bot, None)

    @property
    def failed(self) -> bool:
        return bool(
            self.incompatible_pairs
            or self.cross_pool_pairs
            or self.double_matches
            or self.misdelivered
            or self.interests.violations
        )

    def summary(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.started

        def pct(values: list[float]) -> dict[str, float | int]:
            return {
                "count": len(values),
                "p50": percentile(values, 50),
                "p90": percentile(values, 90),
                "p99": percentile(values, 99),
                "max": max(values) if values else math.nan,
            }

        return {
            "elapsed_s": elapsed,
            "matches": self.matches,
            "matches_per_s": self.matches / elapsed if elapsed > 0 else 0.0,
            "join_to_matched_ms": pct(self.pair_ms),
            "queue_wait_ms": pct(self.wait_ms),
            "message_relay_ms": pct(self.relay_ms),
            "connects": self.connects,
            "connect_failures": self.connect_failures,
            "joins": self.joins,
            "messages_sent": self.messages_sent,
            "messages_received": self.messages_received,
            "gave_up_waiting": self.gave_up,
            "unexpected_closes": self.unexpected_closes,
            "internal_errors": self.internal_errors,
            "error_frames": dict(self.errors),
            "incompatible_pairs": self.incompatible_pairs,
            "cross_pool_pairs": self.cross_pool_pairs,
            "matches_by_pool": dict(self.matches_by_pool),
            "double_matches": self.double_matches,
            "misdelivered": self.misdelivered,
            "matched_in_room": self.matched_in_room,
            "interests": self.interests.summary(pct),
        }


class _Reconnect(Exception):
    """The bot's session is unusable: open a new connection."""


def source_address(url: str, index: int) -> tuple[str, int] | None:
    """Against a loopback server, each bot connects from its own loopback address (Linux
    routes all of 127.0.0.0/8 to lo): bots stand for different people, and the server's
    limits per client address (RATE_CONNECTS_PER_SOURCE, RATE_JOINS_PER_SOURCE) would
    otherwise count them all as one. Elsewhere the system picks the address."""
    try:
        address = ipaddress.ip_address(urlsplit(url).hostname or "")
    except ValueError:
        return None  # a host name: let the system choose
    if address.version != 4 or not address.is_loopback or sys.platform != "linux":
        return None
    return (f"127.1.{index // 250 % 250}.{index % 250 + 1}", 0)


class Bot:
    def __init__(self, index: int, args: argparse.Namespace, stats: Stats, stop: asyncio.Event):
        self.i = index
        self.args = args
        self.stats = stats
        self.stop = stop
        self.rng = random.Random(None if args.seed is None else args.seed * 100_003 + index)
        self.room: str | None = None
        pools = [p.strip() for p in args.pools.split(",") if p.strip()]
        #: Pairs of consecutive bots share a pool, so "pairs" preferences (which alternate)
        #: put both genders in every pool.
        self.pool = pools[(index // 2) % len(pools)] if pools else ""
        sep = "&" if "?" in args.url else "?"
        self.url = f"{args.url}{sep}pool={self.pool}" if self.pool else args.url
        self.local_addr = source_address(args.url, index)
        #: The last rooms left: a message for one of them may still be in flight.
        self.past: list[str] = []
        self.ws: Any = None
        self.profile = bot_interests.draw_profile(args, self.rng)
        self.pacer = Pacer(args.pace)

    def _prefs(self) -> tuple[str, str]:
        if self.args.preferences == "pairs":
            return ("male", "female") if self.i % 2 == 0 else ("female", "male")
        return self.rng.choice(GENDERS), self.rng.choice(PREFERENCES)

    async def _recv(self, deadline: float) -> dict[str, Any] | None:
        """The next frame, or None at the deadline."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return None
        try:
            async with asyncio.timeout(remaining):
                raw = await self.ws.recv()
        except TimeoutError:
            return None
        frame: dict[str, Any] = json.loads(raw)
        if "type" not in frame:  # API Gateway's "Internal server error"
            self.stats.internal_errors += 1
            return {"type": "_internal"}
        if frame["type"] == "error":
            self.stats.errors[str(frame.get("code"))] += 1
            if frame.get("code") == "rate_limited" and self.stats.on_limited is not None:
                self.stats.on_limited()
                self.stats.on_limited = None
            if frame.get("code") == "session_expired":
                raise _Reconnect
        return frame

    async def _idle_until(self, deadline: float) -> None:
        """Waits (for the pacer), taking in what arrives meanwhile."""
        while (frame := await self._recv(deadline)) is not None:
            if frame["type"] == "message":
                self.stats.received(frame)

    async def run(self, once: bool) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

        backoff = 0.2
        while not self.stop.is_set():
            try:
                async with connect(
                    self.url,
                    compression=None,
                    ping_interval=None,
                    open_timeout=30,
                    close_timeout=2,
                    max_size=256 * 1024,
                    local_addr=self.local_addr,
                ) as ws:
                    self.ws = ws
                    self.stats.connects += 1
                    backoff = 0.2
                    finished = await self._session(once)
                    self._left()
                    if finished:
                        return
            except (InvalidStatus, OSError, TimeoutError) as exc:
                self.stats.connect_failures += 1
                if isinstance(exc, InvalidStatus) and once:
                    return
                await asyncio.sleep(backoff * (0.5 + self.rng.random()))
                backoff = min(backoff * 2, 5.0)
            except (ConnectionClosed, WebSocketException):
                self._left()
                if not self.stop.is_set():
                    self.stats.unexpected_closes += 1
            except _Reconnect:
                self._left()

    def _left(self) -> None:
        if self.room is not None:
            self.past = [*self.past[-3:], self.room]
        self.room = None
        self.stats.left(self.i)

    async def _session(self, once: bool) -> bool:
        """Chats on one connection; True when this bot is done for good."""
        action = "join"
        while not self.stop.is_set():
            gender, preference = self._prefs()
            await self._idle_until(self.pacer.join_at())
            if self.stop.is_set():
                break
            matched = await self._find(action, gender, preference)
            if not matched:
                self.stats.gave_up += 1
                self.stats.interests.gave_up(self.profile)
                await self._leave()
                if once:
                    return True
                action = "join"
                continue
            partner_left = await self._chat()
            if once:
                if not partner_left:
                    await self._leave()
                return True
            roll = self.rng.random()
            if partner_left:
                action = "join"
            elif roll < 0.6:
                action = "next"
            elif roll < 0.85:
                await self._leave()
                action = "join"
            else:
                return False  # hang up; run() reconnects
        return True

    async def _leave(self) -> None:
        """Leaves and waits for the ack: frames run concurrently, so a join sent right after
        a leave could otherwise be handled first."""
        self._left()
        await self.ws.send('{"action":"leave"}')
        deadline = time.perf_counter() + 5.0
        while (frame := await self._recv(deadline)) is not None:
            if frame["type"] == "left":
                return

    def _join_frame(self, action: str, gender: str, preference: str) -> str:
        fields = {"action": action, "gender": gender, "preference": preference}
        return json.dumps({**fields, **self.profile.join_fields()})

    async def _find(self, action: str, gender: str, preference: str) -> bool:
        stats = self.stats
        stats.joins += 1
        stats.interests.joined(self.profile)
        if self.room is not None:
            self._left()
        sent = time.perf_counter()
        await self.ws.send(self._join_frame(action, gender, preference))
        deadline = sent + self.args.patience
        waited = False
        retried = False
        queue = bot_interests.QueueClock()
        while True:
            frame = await self._recv(min(deadline, queue.beat_at))
            if frame is None:
                if time.perf_counter() >= deadline:
                    return False
                queue.beat_at = math.inf  # the pong sets the next one
                await self.ws.send('{"action":"heartbeat"}')
                continue
            kind = frame["type"]
            if kind in ("queued", "pong"):
                waited = waited or kind == "queued"
                queue.told(frame)
            elif kind == "matched":
                now = time.perf_counter()
                self.room = str(frame["roomId"])
                match = bot_interests.match_of(self.profile, frame, (now - sent) * 1000)
                receipt = _Receipt(self.i, gender, preference, sent, now, self.pool, match)
                stats.matched(self.room, receipt, waited)
                if queue.eta is not None:
                    stats.interests.told_eta(queue.eta[0], (now - queue.eta[1]) * 1000)
                return True
            elif kind == "message":
                # For the room about to be announced, or a late one for the last room.
                stats.received(frame)
            elif kind == "error" and frame.get("code") == "already_in_room" and not retried:
                # The server still has us in a room whose end has not reached us yet.
                retried = True
                await self._leave()
                await self._idle_until(self.pacer.join_at())
                await self.ws.send(self._join_frame("join", gender, preference))
            elif kind == "error" and frame.get("code") == "rate_limited":
                # Paced bots are not refused unless the server's limits are not the ones
                # --limits assumed (run() explains that once): back off like a person would.
                await asyncio.sleep(1.0)
                return False

    async def _chat(self) -> bool:
        """Sends a few messages; True when the partner left first."""
        stats = self.stats
        count = self.rng.randint(1, max(1, self.args.messages))
        for n in range(count):
            pause = self.args.think_ms / 1000 * (0.5 + self.rng.random())
            deadline = self.pacer.message_at(time.perf_counter() + pause)
            while True:
                frame = await self._recv(deadline)
                if frame is None:
                    break
                if not self._on_room_frame(frame):
                    return True
            if self.stop.is_set():
                return False
            tag = f"{self.i}.{n}.{stats.messages_sent}"
            text = f"{self.rng.choice(_PHRASES)} #{tag}"
            stats.in_flight[tag] = time.perf_counter()
            # The ref comes back on an error for this frame: a late not_in_room for a room
            # that has ended is then not mistaken for one about the current room.
            ref = f"{self.room}|{n}"
            await self.ws.send(json.dumps({"action": "send", "text": text, "ref": ref}))
            stats.messages_sent += 1
        return False

    def _on_room_frame(self, frame: dict[str, Any]) -> bool:
        """False when the room is over."""
        kind = frame["type"]
        if kind == "message":
            self.stats.received(frame)
            room = frame.get("roomId")
            if room != self.room and room not in self.past:
                self.stats.misdelivered += 1
        elif kind == "matched":
            self.stats.matched_in_room += 1
        elif kind == "partner_left":
            if frame.get("roomId") == self.room:
                self._left()
                return False
        elif (
            kind == "error"
            and frame.get("code") == "not_in_room"
            and str(frame.get("ref", "")).split("|")[0] == self.room
        ):
            self._left()
            return False
        return True


async def _drive(args: argparse.Namespace, stats: Stats) -> None:
    stop = asyncio.Event()
    once = args.duration is None
    ramp = args.ramp if args.ramp is not None else min(5.0, args.count / 400)
    bots = [Bot(i, args, stats, stop) for i in range(args.count)]

    async def start(bot: Bot) -> None:
        await asyncio.sleep(ramp * bot.i / max(1, args.count))
        try:
            await bot.run(once)
        finally:
            stats.done_bots += 1

    tasks = [asyncio.create_task(start(b)) for b in bots]
    progress = None if args.quiet else _progress(args)
    try:
        end = None if once else time.perf_counter() + args.duration
        ticks = 0
        while True:
            await asyncio.sleep(0.25)
            ticks += 1
            if progress is not None:
                progress.update(stats)
            if ticks % 20 == 0:
                stats.forget_undelivered(older_than_s=10.0)
            if once and stats.done_bots >= args.count:
                break
            if end is not None and time.perf_counter() >= end:
                break
        stop.set()
        if not once:
            # Let in-flight sessions wind down briefly, then hang everyone up.
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        stop.set()
        if progress is not None:
            progress.update(stats)
            progress.close()


class _progress:
    def __init__(self, args: argparse.Namespace) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.args = args
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[matches]} matches · {task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            auto_refresh=False,
            transient=False,
        )
        self.total = args.duration if args.duration is not None else args.count
        label = f"{args.count} bots" + (f", {args.duration:g} s" if args.duration else "")
        self.task = self.progress.add_task(label, total=self.total, matches=0, rate=0.0)
        self.progress.start()

    def update(self, stats: Stats) -> None:
        elapsed = time.perf_counter() - stats.started
        done = min(elapsed, self.total) if self.args.duration is not None else stats.done_bots
        rate = stats.matches / elapsed if elapsed > 0 else 0.0
        self.progress.update(self.task, completed=done, matches=stats.matches, rate=rate)
        self.progress.refresh()

    def close(self) -> None:
        self.progress.stop()


def _report(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def ms(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.1f} ms"

    table = Table(title="pairchat bots", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("matches", f"{summary['matches']} ({summary['matches_per_s']:.1f}/s)")
    by_pool = {k: v for k, v in summary.get("matches_by_pool", {}).items() if k}
    if by_pool:
        table.add_row("matches by pool", ", ".join(f"{k}: {v}" for k, v in sorted(by_pool.items())))
    for key, label in (
        ("join_to_matched_ms", "join→matched"),
        ("queue_wait_ms", "queue wait"),
        ("message_relay_ms", "message relay"),
    ):
        p = summary[key]
        table.add_row(
            label,
            f"p50 {ms(p['p50'])}  p90 {ms(p['p90'])}  p99 {ms(p['p99'])}  (n={p['count']})",
        )
    table.add_row("connects", f"{summary['connects']} ({summary['connect_failures']} failed)")
    table.add_row("joins", str(summary["joins"]))
    table.add_row(
        "messages", f"{summary['messages_sent']} sent, {summary['messages_received']} received"
    )
    table.add_row("gave up waiting", str(summary["gave_up_waiting"]))
    if summary["error_frames"]:
        table.add_row(
            "error frames", ", ".join(f"{k}: {v}" for k, v in summary["error_frames"].items())
        )
    for key in (
        "internal_errors",
        "unexpected_closes",
        "incompatible_pairs",
        "cross_pool_pairs",
        "double_matches",
        "misdelivered",
        "matched_in_room",
    ):
        if summary[key]:
            table.add_row(f"[red]{key.replace('_', ' ')}", f"[red]{summary[key]}")
    for label, value in bot_interests.report_rows(summary["interests"], ms):
        table.add_row(label, value)
    if summary["interests"]["interest_rule_violations"]:
        violations = summary["interests"]["interest_rule_violations"]
        table.add_row("[red]interest rule violations", f"[red]{violations}")
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    if args.count < 1:
        print("pairchat bots: --count must be at least 1", file=sys.stderr)
        return 2
    raise_fd_limit(args.count + 1024)
    args.pace = limits_for(args.limits, args.url)
    pacing = (
        "not pacing (--limits off)"
        if args.pace is UNPACED
        else f"pacing each bot under {args.pace.describe()} ({args.pace.source})"
    )
    print(f"pairchat bots: {pacing}", file=sys.stderr, flush=True)
    stats = Stats()

    def limited() -> None:
        if args.pace is UNPACED:
            why = "the bots do not pace (--limits off); leave --limits at auto"
        else:
            why = (
                f"its per-user limits are lower than the {args.pace.describe()} the bots keep "
                "under; pass --limits J,M,S with its RATE_JOINS_PER_WINDOW, "
                "RATE_MESSAGES_PER_WINDOW and RATE_WINDOW_SECONDS"
            )
        print(
            f"pairchat bots: the server refused a bot with rate_limited: {why} "
            "(refused bots back off and rejoin; the count is in the summary)",
            file=sys.stderr,
            flush=True,
        )

    stats.on_limited = limited
    runner: Any = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_drive(args, stats))
    summary = summary_of(stats)
    _report(summary)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if stats.failed or summary["matches"] == 0:
        return 1
    return 0


def summary_of(stats: Stats) -> dict[str, Any]:
    return stats.summary()
