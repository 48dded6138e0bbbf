"""Every Redis key name pairchat uses, built in one place.

The names keep those of the design this replaces (``sess:``, ``room:``, ``recent:``,
``wait:chat:<gender>:<preference>``) so its debugging habits still apply. The Lua scripts
build the same names from the same prefix; ``tests/unit/domain/test_keys.py`` pins both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GENDERS: Final = ("male", "female")
PREFERENCES: Final = ("male", "female", "any")


def admits(preference: str, gender: str) -> bool:
    return preference == "any" or preference == gender


def compatible(g1: str, p1: str, g2: str, p2: str) -> bool:
    """Mutual compatibility: each one's preference admits the other's gender."""
    return admits(p1, g2) and admits(p2, g1)


@dataclass(frozen=True)
class Keys:
    prefix: str

    def session(self, user_id: str) -> str:
        """Hash: ``conn`` (connection id), ``g``/``p`` (last join), ``q`` or ``room``."""
        return f"{self.prefix}sess:{user_id}"

    def connection(self, connection_id: str) -> str:
        """String: connection id -> user id. Lets one script resolve who is calling."""
        return f"{self.prefix}conn:{connection_id}"

    def queue_name(self, gender: str, preference: str, shadow: bool = False) -> str:
        """The queue's name without prefix, as stored in a session's ``q`` field; ``shadow``:
        the queue of the shadowed users of that segment (:meth:`shadow`)."""
        return f"wait:{'shadow' if shadow else 'chat'}:{gender}:{preference}"

    def queue(self, gender: str, preference: str) -> str:
        """Sorted set of the segment's waiters open to anyone: member user id, score the
        arrival time in ms, strictly increasing per pool (FIFO across queues)."""
        return self.queue_by_name(self.queue_name(gender, preference))

    def queue_by_name(self, name: str) -> str:
        """The key of the queue a session's ``q`` field names."""
        return f"{self.prefix}{name}"

    def all_queues(self) -> list[tuple[str, str, str]]:
        return [(g, p, self.queue(g, p)) for g in GENDERS for p in PREFERENCES]

    def index(self, accepts: str, shadow: bool = False) -> str:
        """Sorted set (all scores 0, read by lex range) of the interests of the waiters who
        accept gender ``accepts``: ``<interest>:<gender>:<arrival ticks>:<user id>``;
        ``shadow``: the shadowed waiters' index."""
        return f"{self.prefix}wait:{'sint' if shadow else 'int'}:{accepts}"

    def shadow(self, user_id: str) -> str:
        """String: the end (ms) of a user's shadow cooldown, expiring then. A shadowed user
        waits in the shadow queues and index, so it meets only shadowed users."""
        return f"{self.prefix}shadow:{user_id}"

    def relax(self) -> str:
        """Sorted set of waiters whose relaxation is pending: user id, score its time (ms)."""
        return f"{self.prefix}wait:relax"

    def pool(self) -> str:
        """Hash of pool-wide counters: ``last`` arrival score, ``v:<queue>`` versions, ``on``
        (online count), ``eta:<queue>:<a|i>`` wait statistics. Holds no user id."""
        return f"{self.prefix}pool"

    def online(self) -> str:
        """Sorted set of live sessions: user id, score when its registration lapses (ms)."""
        return f"{self.prefix}online"

    def swept(self) -> list[tuple[str, str]]:
        """(name, key) of every sorted set whose stale members the sweeper removes."""
        keys = [
            self.queue_by_name(self.queue_name(g, p, shadow))
            for shadow in (False, True)
            for g in GENDERS
            for p in PREFERENCES
        ]
        keys += [self.index(g, shadow) for shadow in (False, True) for g in GENDERS]
        keys += [self.relax(), self.online()]
        return [(key[len(self.prefix) :], key) for key in keys]

    def room(self, room_id: str) -> str:
        """Hash: ``a`` (the waiter), ``b`` (the joiner), ``ts`` (ms when created)."""
        return f"{self.prefix}room:{room_id}"

    def recent(self, user_id: str) -> str:
        """Set of recent partners, written in both directions."""
        return f"{self.prefix}recent:{user_id}"

    def blocks(self, user_id: str) -> str:
        """Set of users this user blocked; the pairing script honours it both ways."""
        return f"{self.prefix}block:{user_id}"

    def rate(self, kind: str, user_id: str) -> str:
        """Hash: the sliding-window counts of ``kind`` events of one subject without a
        session (``conn-src``, ``join-src``, ``report-src``: a client address), or whose
        window outlives a session (``report``: a reporter's hourly quota, which a reconnect
        must not reset): ``i`` (the current fixed window's index), ``c`` (its count), ``p``
        (the previous window's count). A user's own per-minute counters (``join``, ``send``,
        ``leave``, ``block``, ``typing``) are the same three fields in its session hash,
        ``<kind>.i`` etc., read with the session (lua/includes/rate_limit.lua)."""
        return f"{self.prefix}rate:{kind}:{user_id}"

    def reports(self) -> str:
        """Stream of accepted reports not (yet) in the durable report store (``id``,
        ``reporter``, ``reported``, ``roomId``, ``reason``, ``ts``): those whose write failed,
        until the sweeper moves them, or every report when no store is configured. Capped
        near ``REPORTS_MAX``. Python alone writes and reads it."""
        return f"{self.prefix}reports"

    def reporters(self, user_id: str) -> str:
        """Sorted set: the address keys of who reported ``user_id`` (a reporter's ``u:<id>``
        when its address is unknown), scored by time (ms), trimmed to the shadow window."""
        return f"{self.prefix}reporters:{user_id}"

    def shadowed(self) -> str:
        """Sorted set of the shadowed users (:meth:`shadow`), scored by their cooldown's end
        (ms): what ``GET /shadow`` lists. Trimmed when report.lua writes it."""
        return f"{self.prefix}shadowed"

    def sweeper(self) -> str:
        """Hash: the scheduled sweeper's SCAN/ZSCAN cursors, so each run resumes the last."""
        return f"{self.prefix}sweeper"

    def stats_waits(self, minute: int) -> str:
        """List of wait times (ms) of matches made in that epoch minute (capped)."""
        return f"{self.prefix}stats:waits:{minute}"

    def stats_matches(self, minute: int) -> str:
        """Counter of matches made in that epoch minute."""
        return f"{self.prefix}stats:matches:{minute}"

    def stats_depth(self, minute: int) -> str:
        """Hash: queue name -> its length, as the sweeper saw it in that epoch minute."""
        return f"{self.prefix}stats:depth:{minute}"

    def pattern(self, kind: str) -> str:
        """A SCAN ``MATCH`` pattern for one kind of key (``sess``, ``room``, ...)."""
        return f"{_glob_escape(self.prefix)}{kind}:*"


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
