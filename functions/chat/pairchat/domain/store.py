"""The Redis side of the domain: one method per script, typed results.

Each method is exactly one script call, so one Redis round trip (plus a SCRIPT LOAD after
NOSCRIPT). Connection ids map to users inside the scripts; nothing here trusts a user id
that did not come from Redis or from ``$connect``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pairchat.domain.keys import Keys
from pairchat.domain.scripts import ScriptingClient, Scripts
from pairchat.settings import Settings

JoinMode = Literal["join", "next", "queue", "retry"]
LeaveMode = Literal["leave", "disconnect", "gone"]


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
    #: What ``next`` left behind: the old room and whom to tell ``partner_left``.
    left_room_id: str = ""
    left_partner_connection: str = ""
    stale_removed: int = 0


@dataclass(frozen=True)
class RelayResult:
    room_id: str
    user_id: str
    partner_id: str
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
    """What ``report`` or ``block`` acted on, as the server decided it."""

    room_id: str
    user_id: str
    partner_id: str
    #: report: the stream entry id ('' for a repeated report of the same room);
    #: block: the connection to tell ``partner_left`` when the block ended a live room.
    detail: str


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


class ChatStore:
    def __init__(self, client: ScriptingClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(client)
        self._session_ttl_ms = settings.session_ttl_s * 1000
        self._rate_window_ms = settings.rate_window_s * 1000

    def _run(self, name: str, connection_id: str, *args: str | int | float) -> list[str]:
        key = self.keys.connection(connection_id)
        return self.scripts.run(name, key, (self.keys.prefix, connection_id, *args))

    def open_session(
        self, connection_id: str, user_id: str, authenticated: bool = False
    ) -> ConnectResult:
        """Opens (or resumes, for a token user within its grace) the user's session."""
        kind = "token" if authenticated else "anon"
        r = self._run("connect", connection_id, user_id, self._session_ttl_ms, kind)
        return ConnectResult(r[1], r[2], r[3])

    def match(
        self, connection_id: str, mode: JoinMode, gender: str, preference: str, room_id: str
    ) -> MatchResult:
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
        )
        matched = r[0] == "matched"
        return MatchResult(
            matched=matched,
            room_id=r[1] if matched else "",
            queue="" if matched else r[1],
            user_id=r[2],
            partner_id=r[3],
            partner_connection=r[4],
            waited_ms=float(r[5]),
            gender=r[6],
            preference=r[7],
            left_room_id=r[8],
            left_partner_connection=r[9],
            stale_removed=int(float(r[10])),
        )

    def relay(self, connection_id: str) -> RelayResult:
        s = self.settings
        r = self._run(
            "relay",
            connection_id,
            self._session_ttl_ms,
            s.room_ttl_s,
            s.rate_messages,
            self._rate_window_ms,
        )
        return RelayResult(
            room_id=r[1],
            user_id=r[2],
            partner_id=r[3],
            partner_connection=r[4] if r[0] == "ok" else "",
        )

    def leave(self, connection_id: str, mode: LeaveMode) -> LeaveResult:
        grace_ms = self.settings.reconnect_grace_s * 1000
        r = self._run("leave", connection_id, mode, self._session_ttl_ms, grace_ms)
        return LeaveResult(
            user_id=r[1],
            room_id=r[2],
            partner_id=r[3],
            partner_connection=r[4],
            was_queued=r[5] == "1",
            away=r[0] == "away",
        )

    def heartbeat(self, connection_id: str) -> HeartbeatResult:
        r = self._run("heartbeat", connection_id, self._session_ttl_ms, self.settings.room_ttl_s)
        state = r[2]
        assert state in ("room", "queued", "idle")
        return HeartbeatResult(
            user_id=r[1],
            state=state,  # type: ignore[arg-type]
            room_id=r[3],
            partner_id=r[4],
            left_room_id=r[5],
        )

    def report(self, connection_id: str, reason: str) -> PartnerAction:
        r = self._run("report", connection_id, reason, self.settings.reports_max)
        return PartnerAction(room_id=r[1], user_id=r[2], partner_id=r[3], detail=r[4])

    def block(self, connection_id: str) -> PartnerAction:
        r = self._run("block", connection_id, self.settings.block_ttl_s)
        return PartnerAction(room_id=r[1], user_id=r[2], partner_id=r[3], detail=r[4])

    def reap(self, room_id: str) -> ReapResult:
        """Ends the room if a member's session is gone (used by the sweeper)."""
        r = self.scripts.run("reap", self.keys.room(room_id), (self.keys.prefix, "", room_id))
        status = r[0]
        assert status in ("alive", "none", "reaped")
        return ReapResult(status, r[1], r[2], r[3])  # type: ignore[arg-type]

    def sweep_queue(self, queue_name: str, members: list[str]) -> SweepQueueResult:
        """Removes the stale ones among ``members`` of queue ``queue_name`` (the sweeper)."""
        key = f"{self.keys.prefix}{queue_name}"
        r = self.scripts.run("sweep", key, (self.keys.prefix, "", queue_name, *members))
        return SweepQueueResult(removed=int(r[1]), checked=int(r[2]))
