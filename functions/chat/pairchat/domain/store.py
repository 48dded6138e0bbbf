"""The Redis side of the domain: one method per script, typed results.

Each method is exactly one script call, so one Redis round trip (plus a SCRIPT LOAD after
NOSCRIPT). Replies are read by field name (scripts.REPLIES declares them). Connection ids
map to users inside the scripts; nothing here trusts a user id that did not come from Redis
or from ``$connect``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pairchat.domain.errors import RateLimited, TooSoon
from pairchat.domain.keys import Keys
from pairchat.domain.scripts import Reply, ScriptingClient, Scripts
from pairchat.settings import Settings

JoinMode = Literal["join", "next", "queue"]
LeaveMode = Literal["leave", "disconnect", "gone"]

#: The longest a waiter is told to wait between heartbeats (``retryMs``, docs/protocol.md).
QUEUED_HEARTBEAT_MS: Final = 5000
#: Typing indicators allowed per user per window; the excess is dropped silently.
TYPING_LIMIT: Final = 2
TYPING_WINDOW_MS: Final = 1000
#: The longest an anonymous user's blocks live: API Gateway ends every WebSocket connection
#: after 2 hours, and an anonymous id never comes back after its connection, so its blocks
#: cannot matter longer (leave.lua deletes them at its $disconnect already; this bounds the
#: case where no $disconnect arrives). Token users keep BLOCK_TTL_SECONDS.
ANONYMOUS_BLOCK_TTL_S: Final = 2 * 3600


def _csv(values: str) -> tuple[str, ...]:
    return tuple(values.split(",")) if values else ()


@dataclass(frozen=True)
class WaitState:
    """A waiting session's ``w`` field, as lua/includes/wait_encode.lua writes it:
    ``qs|rd|pr|ra|or|sv|g|p|fb|csv`` (one field: a redis.call costs per argument). For
    operators and tests; the scripts alone write it."""

    qs: str
    rd: str
    pr: str
    ra: str
    only_recent: str
    sv: str
    gender: str
    preference: str
    fb: str
    csv: str

    @classmethod
    def parse(cls, raw: str | bytes | None) -> WaitState | None:
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else raw
        parts = text.split("|", 9)
        return cls(*parts) if len(parts) == 10 else None

    @property
    def arrival_ms(self) -> float:
        return float(self.qs)

    @property
    def open(self) -> bool:
        """In its segment queue: open to anyone."""
        return self.pr == "1"

    @property
    def fallback(self) -> bool:
        return self.fb == "1"

    @property
    def interests(self) -> tuple[str, ...]:
        return _csv(self.csv)

    def with_rd(self, rd: str) -> str:
        """The field with another relaxation time (tests let time pass this way)."""
        parts = [self.qs, rd, self.pr, self.ra, self.only_recent, self.sv, self.gender]
        return "|".join([*parts, self.preference, self.fb, self.csv])


@dataclass(frozen=True)
class QueueStatus:
    """What a waiting client is told in ``queued`` and ``pong``."""

    online: int
    #: None: too little data for an estimate.
    eta_ms: int | None
    only_recent: bool
    retry_ms: int

    @classmethod
    def of(cls, r: Reply) -> QueueStatus:
        eta = r["eta_ms"]
        return cls(
            online=int(r["online"]),
            eta_ms=int(eta) if eta else None,
            only_recent=r["only_recent"] == "1",
            retry_ms=int(r["retry_ms"]),
        )


@dataclass(frozen=True)
class MatchResult:
    matched: bool
    user_id: str
    gender: str
    preference: str
    #: The room created (matched) or the queue name (queued).
    room_id: str = ""
    queue: str = ""
    partner_id: str = ""
    partner_connection: str = ""
    waited_ms: float = 0.0
    #: The caller's interests (normalized, sorted) and fallback, as used for this search.
    interests: tuple[str, ...] = ()
    fallback: bool = True
    #: matched: the interests both share (sorted), and whether fallback paired them.
    common_interests: tuple[str, ...] = ()
    relaxed: bool = False
    #: queued: what the client is told while it waits.
    status: QueueStatus | None = None
    #: What ``next`` left behind: the old room and whom to tell ``partner_left``.
    left_room_id: str = ""
    left_partner_connection: str = ""
    stale_removed: int = 0

    @classmethod
    def of(cls, r: Reply) -> MatchResult:
        """From a 'matched' or 'queued' reply of match.lua, or a 'matched' of heartbeat.lua
        (fields a status lacks read as '')."""
        queued = r.status == "queued"
        return cls(
            matched=not queued,
            user_id=r["user_id"],
            gender=r["gender"],
            preference=r["preference"],
            room_id=r.get("room_id"),
            queue=r.get("queue"),
            partner_id=r.get("partner_id"),
            partner_connection=r.get("partner_connection"),
            waited_ms=float(r.get("waited_ms") or 0),
            interests=_csv(r["interests"]),
            fallback=r["fallback"] == "1",
            common_interests=_csv(r.get("common_interests")),
            relaxed=r.get("relaxed") == "1",
            status=QueueStatus.of(r) if queued else None,
            left_room_id=r.get("left_room_id"),
            left_partner_connection=r.get("left_partner_connection"),
            stale_removed=int(r["stale_removed"]),
        )


@dataclass(frozen=True)
class RelayResult:
    room_id: str
    #: Empty when the partner's session had expired (the room is then dissolved).
    partner_connection: str

    @property
    def partner_gone(self) -> bool:
        return not self.partner_connection


@dataclass(frozen=True)
class LeaveResult:
    user_id: str
    room_id: str
    partner_id: str
    partner_connection: str
    was_queued: bool
    #: A token user's socket closed within its reconnect grace: the room stands, and the
    #: partner is told ``partner_reconnecting`` instead of ``partner_left``.
    away: bool = False


@dataclass(frozen=True)
class ConnectResult:
    previous_connection: str
    #: The room a reconnect within the grace resumed, and whom to tell ``partner_back``.
    resumed_room_id: str = ""
    partner_connection: str = ""


@dataclass(frozen=True)
class PartnerAction:
    """What ``block`` acted on, as the server decided it."""

    room_id: str
    user_id: str
    partner_id: str
    #: The connection to tell ``partner_left`` when the block ended a live room.
    detail: str


@dataclass(frozen=True)
class ReportResult:
    """What report.lua decided (lua/report.lua's header)."""

    room_id: str
    user_id: str
    reported_id: str
    #: When the report was accepted (Redis ms); 0 for a repeated report of the same room
    #: (nothing counted, nothing to store).
    ts_ms: int
    #: Distinct reporters of ``reported_id`` within the shadow window (0 for a repeat).
    reporters: int
    #: This report shadowed ``reported_id`` (or renewed its cooldown).
    shadowed: bool

    @property
    def accepted(self) -> bool:
        return self.ts_ms > 0


@dataclass(frozen=True)
class ReapResult:
    status: Literal["alive", "none", "reaped"]
    room_id: str
    survivor_id: str = ""
    survivor_connection: str = ""


@dataclass(frozen=True)
class SweepQueueResult:
    #: Entries removed (their user no longer waits there) and entries still in the queue.
    removed: int
    checked: int


@dataclass(frozen=True)
class HeartbeatResult:
    user_id: str
    state: Literal["room", "queued", "idle"]
    room_id: str = ""
    partner_id: str = ""
    #: A room found dead (the partner's session was gone) and dissolved: tell partner_left.
    left_room_id: str = ""
    #: queued: the status for the pong (as it was before the search, when that paired).
    status: QueueStatus | None = None
    #: The waiter's search paired it: the pair to announce.
    match: MatchResult | None = None


@dataclass(frozen=True)
class TypingResult:
    room_id: str
    partner_connection: str


class ChatStore:
    """The scripts of one pool: every key it names carries that pool's hash tag."""

    def __init__(
        self, client: ScriptingClient, settings: Settings, pool: str | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.pool = pool or settings.default_pool
        self.keys = Keys(settings.prefix_for(self.pool))
        self.scripts = Scripts(client)
        self._session_ttl_ms = settings.session_ttl_s * 1000
        self._rate_window_ms = settings.rate_window_s * 1000

    def _run(
        self, name: str, connection_id: str, *args: str | int | float, user_id: str = ""
    ) -> Reply:
        """Runs a script for a connection; with its ``user_id`` (the authorizer's), the
        session key goes along as KEYS[2] and the script need not read the connection key
        to learn who is calling (lua/includes/resolve.lua)."""
        key = self.keys.connection(connection_id)
        more = (self.keys.session(user_id),) if user_id else ()
        return self.scripts.run(name, key, (self.keys.prefix, connection_id, *args), *more)

    def open_session(
        self, connection_id: str, user_id: str, authenticated: bool = False, source: str = ""
    ) -> ConnectResult:
        """Opens (or resumes, for a token user within its grace) the user's session."""
        kind = "token" if authenticated else "anon"
        r = self._run(
            "connect",
            connection_id,
            user_id,
            self._session_ttl_ms,
            kind,
            source,
            self.settings.rate_connects_per_source,
            self._rate_window_ms,
        )
        return ConnectResult(
            previous_connection=r["previous_connection"],
            resumed_room_id=r["resumed_room_id"],
            partner_connection=r["partner_connection"],
        )

    def match(
        self,
        connection_id: str,
        mode: JoinMode,
        gender: str,
        preference: str,
        room_id: str,
        interests: tuple[str, ...] | None = None,
        fallback: bool | None = None,
        source: str = "",
        user_id: str = "",
    ) -> MatchResult:
        """Pairs or enqueues. ``gender``/``preference`` '' (with ``next``), ``interests`` and
        ``fallback`` None reuse the session's last values; interests must be normalized
        (protocol.normalize_interests)."""
        s = self.settings
        r = self._run(
            "match",
            connection_id,
            mode,
            gender,
            preference,
            room_id,
            self._session_ttl_ms,
            s.room_ttl_s,
            s.recent_ttl_s,
            s.match_scan_window,
            s.rate_joins,
            self._rate_window_ms,
            "*" if interests is None else ",".join(interests),
            "*" if fallback is None else ("1" if fallback else "0"),
            s.match_relax_s * 1000,
            QUEUED_HEARTBEAT_MS,
            source,
            s.rate_joins_per_source,
            user_id=user_id,
        )
        return MatchResult.of(r)

    def relay(self, connection_id: str, user_id: str = "") -> RelayResult:
        s = self.settings
        r = self._run(
            "relay",
            connection_id,
            self._session_ttl_ms,
            s.room_ttl_s,
            s.rate_messages,
            self._rate_window_ms,
            user_id=user_id,
        )
        return RelayResult(room_id=r["room_id"], partner_connection=r.get("partner_connection"))

    def leave(self, connection_id: str, mode: LeaveMode, user_id: str = "") -> LeaveResult:
        grace_ms = self.settings.reconnect_grace_s * 1000
        r = self._run(
            "leave",
            connection_id,
            mode,
            self._session_ttl_ms,
            grace_ms,
            self.settings.rate_leaves,
            self._rate_window_ms,
            user_id=user_id,
        )
        return LeaveResult(
            user_id=r["user_id"],
            room_id=r["room_id"],
            partner_id=r["partner_id"],
            partner_connection=r["partner_connection"],
            was_queued=r["was_queued"] == "1",
            away=r.status == "away",
        )

    def heartbeat(self, connection_id: str, room_id: str, user_id: str = "") -> HeartbeatResult:
        """Keeps the session alive; a waiter searches again when something changed, and is
        paired into ``room_id`` when that finds someone."""
        s = self.settings
        r = self._run(
            "heartbeat",
            connection_id,
            self._session_ttl_ms,
            s.room_ttl_s,
            room_id,
            s.recent_ttl_s,
            s.match_scan_window,
            QUEUED_HEARTBEAT_MS,
            s.heartbeat_burst,
            s.heartbeat_refill_ms,
            user_id=user_id,
        )
        if r.status == "matched":
            match = MatchResult.of(r)
            return HeartbeatResult(r["user_id"], "queued", status=QueueStatus.of(r), match=match)
        if r.status == "queued":
            return HeartbeatResult(r["user_id"], "queued", status=QueueStatus.of(r))
        if r.status == "room":
            return HeartbeatResult(r["user_id"], "room", r["room_id"], r["partner_id"])
        return HeartbeatResult(r["user_id"], "idle", left_room_id=r["left_room_id"])

    def typing(self, connection_id: str, user_id: str = "") -> TypingResult | None:
        """Where a typing indicator goes; None when it is dropped (over the limit, or the
        partner is gone or reconnecting). Writes nothing but the limiter's counter."""
        r = self._run("typing", connection_id, TYPING_LIMIT, TYPING_WINDOW_MS, user_id=user_id)
        if r.status != "ok":
            return None
        return TypingResult(r["room_id"], r["partner_connection"])

    def report(self, connection_id: str, source: str = "", user_id: str = "") -> ReportResult:
        """Accepts a report or refuses it (quotas, the room's age), and counts the reporter
        towards the reported user's shadow flag. ``source``: the client's address as an
        opaque key ('' unknown); ``user_id``: the authorizer's (KEYS[2]). The reason never
        reaches Redis here."""
        s = self.settings
        try:
            r = self._run(
                "report",
                connection_id,
                source,
                s.reports_per_user_hour,
                s.reports_per_source_hour,
                s.report_min_room_age_s * 1000,
                s.recent_ttl_s * 1000,
                s.shadow_reporters,
                s.shadow_window_s * 1000,
                s.shadow_cooldown_s * 1000,
                user_id=user_id,
            )
        except RateLimited:
            raise RateLimited(
                "You have sent many reports in the last hour; try again later."
            ) from None
        except TooSoon:
            raise TooSoon(
                f"This chat has only just started: you can report it once it is "
                f"{s.report_min_room_age_s} seconds old (or block now)."
            ) from None
        return ReportResult(
            room_id=r["room_id"],
            user_id=r["user_id"],
            reported_id=r["reported_id"],
            ts_ms=int(r["ts"] or 0),
            reporters=int(r["reporters"]),
            shadowed=r["shadowed"] == "1",
        )

    def block(self, connection_id: str, user_id: str = "") -> PartnerAction:
        s = self.settings
        r = self._run(
            "block",
            connection_id,
            s.block_ttl_s,
            s.rate_blocks,
            self._rate_window_ms,
            min(s.block_ttl_s, ANONYMOUS_BLOCK_TTL_S),
            user_id=user_id,
        )
        return PartnerAction(
            room_id=r["room_id"],
            user_id=r["user_id"],
            partner_id=r["blocked_id"],
            detail=r["partner_connection"],
        )

    def mirror_block(self, user_id: str, blocked_id: str) -> None:
        """Writes a block made in another pool into this pool's slot (the pairing script
        reads blocks only in its own slot): how a token user's block follows it."""
        key = self.keys.blocks(user_id)
        self.scripts.run(
            "mirror_block",
            key,
            (self.keys.prefix, "", user_id, blocked_id, self.settings.block_ttl_s),
        )

    def reap(self, room_id: str) -> ReapResult:
        """Ends the room if a member's session is gone (used by the sweeper)."""
        r = self.scripts.run("reap", self.keys.room(room_id), (self.keys.prefix, "", room_id))
        status = r.status
        assert status in ("alive", "none", "reaped")
        return ReapResult(
            status,  # type: ignore[arg-type]
            r["room_id"],
            r.get("survivor_id"),
            r.get("survivor_connection"),
        )

    def sweep_queue(self, queue_name: str, members: list[str]) -> SweepQueueResult:
        """Removes the stale ones among ``members`` of queue ``queue_name`` (the sweeper)."""
        key = self.keys.queue_by_name(queue_name)
        r = self.scripts.run("sweep", key, (self.keys.prefix, "", queue_name, *members))
        return SweepQueueResult(removed=int(r["removed"]), checked=int(r["checked"]))
