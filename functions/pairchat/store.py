"""The Redis side of the domain: one method per script, typed results.

Each method is exactly one script call, so one Redis round trip (plus a SCRIPT LOAD after
NOSCRIPT). Connection ids map to users inside the scripts; nothing here trusts a user id
that did not come from Redis or from ``$connect``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .keys import Keys
from .scripts import ScriptingClient, Scripts
from .settings import Settings

JoinMode = Literal["join", "next", "queue"]
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


@dataclass(frozen=True)
class HeartbeatResult:
    user_id: str
    state: Literal["room", "queued", "idle"]


class ChatStore:
    def __init__(self, client: ScriptingClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(client)
        self._session_ttl_ms = settings.session_ttl_s * 1000

    def _run(self, name: str, connection_id: str, *args: str | int | float) -> list[str]:
        key = self.keys.connection(connection_id)
        return self.scripts.run(name, key, (self.keys.prefix, connection_id, *args))

    def connect(self, connection_id: str, user_id: str) -> str:
        """Opens the session; returns the user's previous connection id, if any."""
        return self._run("connect", connection_id, user_id, self._session_ttl_ms)[1]

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
        r = self._run("relay", connection_id, self._session_ttl_ms, self.settings.room_ttl_s)
        return RelayResult(
            room_id=r[1],
            user_id=r[2],
            partner_id=r[3],
            partner_connection=r[4] if r[0] == "ok" else "",
        )

    def leave(self, connection_id: str, mode: LeaveMode) -> LeaveResult:
        r = self._run("leave", connection_id, mode, self._session_ttl_ms)
        return LeaveResult(
            user_id=r[1],
            room_id=r[2],
            partner_id=r[3],
            partner_connection=r[4],
            was_queued=r[5] == "1",
        )

    def heartbeat(self, connection_id: str) -> HeartbeatResult:
        r = self._run("heartbeat", connection_id, self._session_ttl_ms, self.settings.room_ttl_s)
        state = r[2]
        assert state in ("room", "queued", "idle")
        return HeartbeatResult(user_id=r[1], state=state)  # type: ignore[arg-type]
