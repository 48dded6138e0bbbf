"""Whole-state checks over a (test) Redis: the promises pairchat keeps after every step."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pairchat.domain.keys import Keys, compatible


@dataclass
class State:
    rooms: dict[str, tuple[str, str]] = field(default_factory=dict)
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    queued: dict[str, list[str]] = field(default_factory=dict)  # uid -> queue names


def read_state(client: Any, keys: Keys) -> State:
    state = State()
    for key in client.scan_iter(keys.pattern("room"), count=1000):
        room = client.hgetall(key)
        state.rooms[key.removeprefix(keys.prefix + "room:")] = (room.get("a"), room.get("b"))
    for key in client.scan_iter(keys.pattern("sess"), count=1000):
        state.sessions[key.removeprefix(keys.prefix + "sess:")] = client.hgetall(key)
    for _g, _p, qkey in keys.all_queues():
        name = qkey.removeprefix(keys.prefix)
        for uid in client.zrange(qkey, 0, -1):
            state.queued.setdefault(uid, []).append(name)
    return state


def check(client: Any, keys: Keys) -> State:
    """Asserts the structural invariants and returns the state it read."""
    s = read_state(client, keys)
    members = Counter(u for pair in s.rooms.values() for u in pair)
    for rid, (a, b) in s.rooms.items():
        assert a and b and a != b, f"room {rid} is malformed: {a!r}, {b!r}"
        for uid in (a, b):
            sess = s.sessions.get(uid)
            if sess is not None:  # an expired member is cleaned up lazily
                assert sess.get("room") == rid, (
                    f"{uid} is in room {rid} but its session says {sess}"
                )
        ga, pa = s.sessions.get(a, {}).get("g"), s.sessions.get(a, {}).get("p")
        gb, pb = s.sessions.get(b, {}).get("g"), s.sessions.get(b, {}).get("p")
        if ga and gb and pa and pb:
            assert compatible(ga, pa, gb, pb), f"room {rid} pairs incompatible users"
    double = [u for u, n in members.items() if n > 1]
    assert not double, f"users in two rooms: {double}"
    for uid, queues in s.queued.items():
        assert len(queues) == 1, f"{uid} waits in several queues: {queues}"
        sess = s.sessions.get(uid)
        if sess is not None and sess.get("q") == queues[0]:
            assert "room" not in sess, f"{uid} waits while in a room"
    for uid, sess in s.sessions.items():
        if "q" in sess:
            assert s.queued.get(uid) == [sess["q"]], f"{uid}'s queue entry was lost"
    return s


def live_waiters(s: State) -> list[tuple[str, str, str]]:
    """(uid, gender, preference) of every live session that waits in its queue."""
    out = []
    for uid, queues in s.queued.items():
        sess = s.sessions.get(uid)
        if sess and sess.get("q") == queues[0] and "room" not in sess:
            out.append((uid, sess["g"], sess["p"]))
    return out


def compatible_pairs_waiting(
    s: State, excluded: set[frozenset[str]] | None = None
) -> list[tuple[str, str]]:
    """Pairs of live waiters who could be matched (and are not recent partners)."""
    excluded = excluded or set()
    waiting = live_waiters(s)
    pairs = []
    for i, (u1, g1, p1) in enumerate(waiting):
        for u2, g2, p2 in waiting[i + 1 :]:
            if compatible(g1, p1, g2, p2) and frozenset((u1, u2)) not in excluded:
                pairs.append((u1, u2))
    return pairs
