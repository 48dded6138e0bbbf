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


# -- the matching rule with interests, fallback and relaxation (issue 11) ---------------------


@dataclass(frozen=True)
class Waiter:
    """A live waiting user as its session says (docs/protocol.md's terms)."""

    uid: str
    gender: str
    preference: str
    interests: frozenset[str]
    fallback: bool
    #: Open to anyone now: no interests, or fallback on and its relaxation time has passed.
    open: bool
    #: Its arrival score (ms): the line's order.
    arrival: float = 0.0


def waiters(client: Any, keys: Keys, uids: list[str] | None = None) -> list[Waiter]:
    """Every live session waiting in its queue (connected, in no room, with a wait state);
    ``uids``: the users to look at (default: every session, by SCAN)."""
    from pairchat.domain.store import WaitState

    seconds, micros = client.time()
    now = seconds * 1000 + micros // 1000
    if uids is None:
        prefix = keys.prefix + "sess:"
        uids = [k.removeprefix(prefix) for k in client.scan_iter(keys.pattern("sess"), count=1000)]
    pipe = client.pipeline(transaction=False)
    for uid in uids:
        pipe.hgetall(keys.session(uid))
    out = []
    for uid, s in zip(uids, pipe.execute(), strict=True):
        w = WaitState.parse(s.get("w"))
        if not s.get("conn") or not s.get("q") or "room" in s or w is None:
            continue
        relaxed = w.open or (w.rd != "" and float(w.rd) <= now)
        out.append(
            Waiter(
                uid=uid,
                gender=w.gender,
                preference=w.preference,
                interests=frozenset(w.interests),
                fallback=w.fallback,
                open=not w.interests or (w.fallback and relaxed),
                arrival=w.arrival_ms,
            )
        )
    return out


def hard_rules_allow(
    client: Any, keys: Keys, x: str, y: str, gx: str, px: str, gy: str, py: str
) -> bool:
    """Never relaxed: not oneself, mutual compatibility, no recent partnership and no block,
    either way."""
    if x == y or not compatible(gx, px, gy, py):
        return False
    pipe = client.pipeline(transaction=False)
    for a, b in ((x, y), (y, x)):
        pipe.sismember(keys.recent(a), b)
        pipe.sismember(keys.blocks(a), b)
    return not any(pipe.execute())


def rule_pairs(x: Waiter, y: Waiter) -> str | None:
    """How the matching rule pairs two waiters the hard rules allow: 'shared' (an interest in
    common), 'open' (both open to anyone), or None (they wait for someone else)."""
    if x.interests & y.interests:
        return "shared"
    if x.open and y.open:
        return "open"
    return None


def pairs_left_waiting(
    client: Any, keys: Keys, pending: set[str], uids: list[str] | None = None
) -> list[tuple[str, str, str]]:
    """Pairs of waiters the rule would pair. A pair that needs a relaxation which its waiter
    has not searched after yet (``pending``: relaxed since its last heartbeat) may wait:
    rule 3 pairs it at that waiter's next heartbeat."""
    found = []
    live = waiters(client, keys, uids)
    for i, x in enumerate(live):
        for y in live[i + 1 :]:
            how = rule_pairs(x, y)
            if how is None:
                continue
            if how == "open" and (x.uid in pending or y.uid in pending):
                continue
            if hard_rules_allow(
                client, keys, x.uid, y.uid, x.gender, x.preference, y.gender, y.preference
            ):
                found.append((x.uid, y.uid, how))
    return found


def check_match(
    client: Any,
    keys: Keys,
    uid: str,
    partner: str,
    frame: dict[str, Any],
    relaxed: set[str],
    before: set[frozenset[str]],
) -> None:
    """A delivered ``matched`` frame to ``uid`` (about ``partner``, whom its partnerId, an
    alias, stands for) keeps the rule: the pair is compatible, was
    not recent (``before``: pairs matched earlier in this run) and not blocked; its
    commonInterests are what both gave; ``relaxed`` only when someone gave interests and none
    is shared, and then only for users whose relaxation time had passed (``relaxed``)."""
    assert partner != uid, f"{uid} was paired with itself"
    assert frozenset((uid, partner)) not in before, f"{uid} and {partner} paired again"
    me, other = client.hgetall(keys.session(uid)), client.hgetall(keys.session(partner))
    if not me or not other:
        return  # one of them is already gone (a 410 in the same step): nothing left to check
    assert compatible(me["g"], me["p"], other["g"], other["p"]), (uid, partner, me, other)
    for a, b in ((uid, partner), (partner, uid)):
        assert not client.sismember(keys.blocks(a), b), f"{a} blocked {b} but they were paired"
    mine = set(filter(None, me.get("in", "").split(",")))
    theirs = set(filter(None, other.get("in", "").split(",")))
    assert frame["commonInterests"] == sorted(mine & theirs), (frame, mine, theirs)
    assert frame["relaxed"] == (not (mine & theirs) and bool(mine or theirs)), (frame, mine, theirs)
    if frame["relaxed"]:
        for who, interests in ((uid, mine), (partner, theirs)):
            assert not interests or who in relaxed, f"{who} was paired by fallback too early"


def listed(client: Any, keys: Keys, uid: str) -> bool:
    """Whether waiting user ``uid`` is where its wait state says: in its segment queue once
    open to anyone, in the interest index under each interest for each gender it accepts,
    and in the relaxation set while its relaxation is pending (and not for this wait after)."""
    from pairchat.domain.keys import GENDERS, admits
    from pairchat.domain.store import WaitState

    session = client.hgetall(keys.session(uid))
    w = WaitState.parse(session.get("w"))
    if w is None or not session.get("q"):
        return False
    in_queue = client.zscore(keys.queue_by_name(session["q"]), uid) is not None
    if in_queue != w.open:
        return False
    ticks = f"{float(w.qs) * 1024:016.0f}"
    for accepts in GENDERS:
        for interest in w.interests:
            member = f"{interest}:{w.gender}:{ticks}:{uid}"
            if (client.zscore(keys.index(accepts), member) is not None) != admits(
                w.preference, accepts
            ):
                return False
    pending = bool(w.interests) and w.fallback and not w.open
    entry = client.zscore(keys.relax(), uid)
    if pending:
        return entry is not None
    # Not pending: this wait must have left no entry. An entry that is not this wait's (its
    # score is not this wait's relaxation time) is a leftover of a wait whose session expired
    # (nothing runs at a TTL's end); promote_due or the sweeper drops it when it comes due.
    return entry is None or w.rd == "" or entry != float(w.rd)


def first_choice(
    client: Any, keys: Keys, searcher: Waiter, before: list[Waiter], partner: str
) -> str | None:
    """Whom the rule gives ``searcher`` among the users waiting before its search
    (``before``): the oldest sharing an interest, else (when the searcher is open to anyone)
    the oldest open to anyone, the hard rules applied as they stand after the step, except
    the recent partnership with ``partner`` that the pairing itself created. (A candidate
    found dead was marked recent too when the pair was undone, so it drops out here as it
    did there.)"""

    def allowed(w: Waiter) -> bool:
        if w.uid == partner:
            return (
                w.uid != searcher.uid
                and compatible(searcher.gender, searcher.preference, w.gender, w.preference)
                and not any(
                    client.sismember(keys.blocks(a), b)
                    for a, b in ((searcher.uid, w.uid), (w.uid, searcher.uid))
                )
            )
        return hard_rules_allow(
            client, keys, searcher.uid, w.uid,
            searcher.gender, searcher.preference, w.gender, w.preference,
        )  # fmt: skip

    candidates = [w for w in before if w.uid != searcher.uid and allowed(w)]
    shared = sorted((w for w in candidates if w.interests & searcher.interests), key=_arrival)
    if shared:
        return shared[0].uid
    if not searcher.open:
        return None
    anyone = sorted((w for w in candidates if w.open), key=_arrival)
    return anyone[0].uid if anyone else None


def _arrival(w: Waiter) -> float:
    return w.arrival
