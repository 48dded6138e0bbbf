"""A randomized stateful test of the whole service on real Redis (Hypothesis state machine).

Many users join, next, leave, send, heartbeat, report, block, disconnect (with reconnect
grace), die silently (their posts answer 410), lose their session to the TTL, reconnect,
and meet SCRIPT FLUSH and the sweeper, in any order. After every step the invariants below
must hold, both in Redis and against what each live client was told:

* nobody is in two rooms; rooms are symmetric (every session's room exists and lists it;
  a listed member whose session no longer points back is gone, and the scripts treat it so);
* nobody is told of a partner who was already gone: a delivered ``matched`` is matched by
  the partner's delivered ``matched``, or followed by ``partner_left`` in the same step;
* a ``message`` reaches only a member of the room it names;
* no pair the matching rule would pair is left waiting: compatible, not recent partners, not
  blocked (either way), and sharing an interest or both open to anyone (interests given with
  fallback, relaxation reached); a waiter that relaxed since its last heartbeat may wait until
  it (rule 3: relaxation happens through the ``relax`` operation, as if
  MATCH_RELAX_SECONDS had passed for that user only);
* every delivered ``matched`` keeps the hard rules (compatible, not paired before, not
  blocked), names the interests both gave, and is ``relaxed`` only when no interest is shared
  and only for users whose relaxation time had passed;
* no queue entry of a live waiting user is lost: what each live client was last told
  (queued / in room R / idle) is what Redis says.

Over 400 lines on purpose: one state machine whose operations and checks share its model of
what each client was told; the rule's own checks live in tests/invariants.py.

``PAIRCHAT_STATEFUL_EXAMPLES`` and ``PAIRCHAT_STATEFUL_STEPS`` scale the run (the CI default
is 50 examples of up to 60 steps, most steps a seeded burst of up to 60 operations);
``PAIRCHAT_SLOW=1`` adds a long run; ``PAIRCHAT_STATEFUL_SHRINK=1`` shrinks a failure.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pairchat.domain.errors import PairchatError
from pairchat.domain.keys import GENDERS, PREFERENCES
from pairchat.domain.service import UNKNOWN, Caller, ChatService
from pairchat.domain.store import ChatStore
from pairchat.settings import Settings
from tests.invariants import (
    Waiter,
    check_match,
    first_choice,
    listed,
    pairs_left_waiting,
    waiters,
)
from tests.support import make_sweeper, relax_now

pytestmark = pytest.mark.integration

USERS = 9
users = st.integers(0, USERS - 1)
genders = st.sampled_from(GENDERS)
preferences = st.sampled_from(PREFERENCES)
#: A small vocabulary, so interests overlap often.
VOCABULARY = ("art", "go", "jazz")

#: Operations of a burst and how often each is drawn (mostly the chat itself).
OPS = (
    "connect",
    "join",
    "next",
    "next_with",
    "leave",
    "send",
    "heartbeat",
    "report",
    "block",
    "disconnect",
    "die_silently",
    "late_disconnect",
    "session_expires",
    "script_flush",
    "sweep",
    "relax",
)
WEIGHTS = (10, 14, 8, 3, 5, 10, 6, 1, 1, 3, 5, 2, 2, 1, 2, 5)

View = tuple[str, str | None] | None  # ('queued', queue|None) | ('room', rid) | ('idle', None)


class StepNotifier:
    """Records every post of the current step, in order; closed or dead sockets answer 410."""

    def __init__(self) -> None:
        self.gone: set[str] = set()
        self.step: list[tuple[str, dict[str, Any], bool]] = []

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        delivered = connection_id not in self.gone
        self.step.append((connection_id, frame, delivered))
        return delivered


def machine(redis_url: str, base: Settings) -> type[RuleBasedStateMachine]:
    class Chat(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.r = redis.Redis.from_url(redis_url, decode_responses=True)
            self.r.flushall()  # the fixture's private server
            # Pairing work is bounded on purpose: rematch_attempts (dead waiters met in a row)
            # and match_scan_window (ineligible entries skipped per queue). With USERS of each
            # the bounds cannot bind here, so "no compatible pair waits" must hold exactly.
            # Rate limits are off: they depend on the wall clock, which would make a failing
            # example irreproducible (test_rate_limits.py covers them).
            # Relaxation an hour away: only the `relax` operation lets it pass, for one user.
            # Report quotas are wall-clock limits too, and shadowing (3 reporters) would move
            # users to queues of their own, which the pairing invariants here do not model
            # (tests/integration/lua/test_report.py and test_shadow_pool.py cover both).
            self.settings = replace(
                base,
                reports_per_user_hour=0,
                reports_per_source_hour=0,
                shadow_reporters=0,
                rematch_attempts=USERS,
                match_scan_window=USERS,
                rate_joins=0,
                rate_messages=0,
                rate_leaves=0,
                rate_blocks=0,
                heartbeat_burst=0,
                match_relax_s=3600,
            )
            self.notifier = StepNotifier()
            self.store = ChatStore(self.r, self.settings)
            self.svc = ChatService(self.store, self.notifier, self.settings)
            self.sweeper = make_sweeper(self.r, self.settings, self.notifier)
            self.k = self.store.keys
            self.conn: dict[int, str | None] = dict.fromkeys(range(USERS))
            self.dead: list[str] = []  # silently dead sockets whose $disconnect is pending
            self.view: dict[str, View] = {}
            self.serial = 0
            #: What happened, for the failure message (bursts are not in Hypothesis's log).
            self.trace: list[str] = []
            #: Users whose relaxation time has passed in their current wait, and those of them
            #: that have not heartbeated since (rule 3 pairs them at that heartbeat).
            self.relaxed: set[str] = set()
            self.pending: set[str] = set()
            #: Pairs delivered `matched` so far: never paired again (recent partners).
            self.paired: set[frozenset[str]] = set()
            #: Who waited after the last operation: what the next search chooses from.
            self.before: list[Waiter] = []

        def teardown(self) -> None:
            self.r.close()

        # -- helpers ------------------------------------------------------------------------

        def uid(self, u: int) -> str:
            return f"user{u}"

        def caller(self, u: int) -> Caller:
            """Who the handler says is calling, varied with the trace's length: usually the
            authorizer's user id (the scripts then take KEYS[2]), sometimes none (they read
            the connection key), now and then another user's id (they must fall back to the
            connection key and act for the right user)."""
            pick = len(self.trace) % 7
            if pick < 4:
                return Caller(user_id=self.uid(u))
            if pick < 6:
                return UNKNOWN
            return Caller(user_id=self.uid((u + 1) % USERS))

        def act(self, u: int, fn: Any, *args: Any) -> None:
            cid = self.conn[u]
            if cid is None:
                return
            self.notifier.step.clear()
            caller = self.caller(u)
            self.trace.append(f"{fn.__name__} {self.uid(u)} {cid} {args} as {caller.user_id!r}")
            try:
                fn(cid, *args, caller=caller)
            except PairchatError as error:
                self.svc.reject(cid, error)
                if error.code == "session_expired":
                    self.close(u)  # the client reconnects
            self.check_choice(u, cid, fn.__name__)
            self.settle()
            if fn.__name__ == "heartbeat":
                self.pending.discard(self.uid(u))  # it searched, if its relaxation was due
            self.forget_ended_waits()

        def close(self, u: int) -> None:
            cid = self.conn[u]
            if cid is not None:
                self.notifier.gone.add(cid)
                self.view.pop(cid, None)
                self.conn[u] = None

        def settle(self) -> None:
            """Checks this step's posts and updates what each client believes."""
            posts = self.notifier.step
            for cid, f, delivered in posts:
                extra = f.get("roomId") or f.get("code") or f.get("state") or ""
                self.trace.append(f"   -> {cid} {f['type']} {extra}{'' if delivered else ' (410)'}")
            for i, (cid, f, delivered) in enumerate(posts):
                if not delivered:
                    continue
                t, view = f["type"], self.view.get(cid)
                if t == "matched":
                    uid = self.uid_of(cid)
                    check_match(
                        self.r, self.k, uid, self.partner_of(f), f, self.relaxed, self.paired
                    )
                    room = f["roomId"]
                    partner_told = any(
                        c != cid and g["type"] == "matched" and g["roomId"] == room and ok
                        for c, g, ok in posts
                    )
                    left_after = any(
                        c == cid and g["type"] == "partner_left" and g["roomId"] == room
                        for c, g, ok in posts[i + 1 :]
                    )
                    assert partner_told or left_after, f"{cid} told of a gone partner"
                    self.view[cid] = ("room", room)
                elif t == "message":
                    assert view == ("room", f["roomId"]) or view is None, (cid, view, f)
                elif t == "queued":
                    self.view[cid] = ("queued", f["queue"])
                elif t in ("partner_left", "blocked"):
                    if view == ("room", f["roomId"]):
                        self.view[cid] = ("idle", None)
                elif t == "left":
                    self.view[cid] = ("idle", None)
                elif t == "pong":
                    state = f["state"]
                    self.view[cid] = (
                        (state, f.get("roomId"))
                        if state != "idle"
                        else (
                            "idle",
                            None,
                        )
                    )
            for cid, f, delivered in posts:
                if delivered and f["type"] == "matched":
                    self.paired.add(frozenset((self.uid_of(cid), self.partner_of(f))))
            self.notifier.step.clear()

        def check_choice(self, u: int, cid: str, action: str) -> None:
            """A search that paired the acting user gave it the rule's first choice (shared
            interest first, then open to anyone; oldest first; dead ones skipped)."""
            matched = [
                f for c, f, ok in self.notifier.step if c == cid and ok and f["type"] == "matched"
            ]
            if action not in ("join", "next", "heartbeat") or not matched:
                return
            uid, partner = self.uid(u), self.partner_of(matched[-1])
            s = self.r.hgetall(self.k.session(uid))
            mine = frozenset(filter(None, s.get("in", "").split(",")))
            was = next((w for w in self.before if w.uid == uid), None)
            if action == "heartbeat":
                assert was is not None, f"{uid} was paired on a heartbeat but was not waiting"
                searcher = was
            else:  # a join's relaxation time is an hour away: open only without interests
                searcher = Waiter(uid, s["g"], s["p"], mine, s.get("fb") == "1", not mine)
            expected = first_choice(self.r, self.k, searcher, self.before, partner)
            assert expected == partner, f"{uid} got {partner}; the rule gives {expected}"

        def partner_of(self, matched: dict[str, Any]) -> str:
            """The user a ``matched`` frame's partnerId (an alias in its room) stands for."""
            room, alias = matched["roomId"], matched["partnerId"]
            found = [u for u in map(self.uid, range(USERS)) if self.svc.alias(room, u) == alias]
            assert len(found) == 1, f"alias {alias} in {room} names {found}"
            return found[0]

        def uid_of(self, cid: str) -> str:
            return self.uid(int(cid[1:].split("-", 1)[0]))

        def forget_ended_waits(self) -> None:
            """A user that no longer waits, or waits anew (its relaxation time in the future
            again), is not relaxed any more."""
            for uid in list(self.relaxed):
                w = self.r.hget(self.k.session(uid), "w")
                if not w or w.split("|")[1] != "0":
                    self.relaxed.discard(uid)
                    self.pending.discard(uid)

        def relax(self, u: int) -> None:
            uid = self.uid(u)
            self.trace.append(f"relax {uid}")
            if relax_now(self.r, self.k, uid):
                self.relaxed.add(uid)
                self.pending.add(uid)

        def interests(self, rng: random.Random) -> tuple[tuple[str, ...], bool]:
            picked = rng.sample(VOCABULARY, rng.choice((0, 0, 1, 1, 2)))
            return tuple(sorted(picked)), rng.random() < 0.75

        # -- rules --------------------------------------------------------------------------

        @initialize()
        def start(self) -> None:
            for u in range(USERS):
                self.connect(u)

        @rule(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
        def burst(self, seed: int, n: int) -> None:
            """A seeded run of ``n`` random operations, every invariant checked after each:
            many operations per Hypothesis step keep the run long and fast."""
            rng = random.Random(seed)
            for _ in range(n):
                u = rng.randrange(USERS)
                op = rng.choices(OPS, weights=WEIGHTS)[0]
                if op == "connect":
                    self.connect(u)
                elif op in ("join", "next_with"):
                    g, p = rng.choice(GENDERS), rng.choice(PREFERENCES)
                    interests, fallback = self.interests(rng)
                    if op == "join":
                        self.act(u, self.svc.join, g, p, interests, fallback)
                    else:
                        self.act(u, self.svc.next, g, p, interests, fallback)
                elif op == "next":
                    self.next(u, True, "", "")
                elif op == "send":
                    self.send(u, rng.choice(["hi", "héllo 👋", "a\u0000b", "x" * 50]))
                elif op == "late_disconnect":
                    if self.dead:
                        cid = self.dead.pop(rng.randrange(len(self.dead)))
                        self.trace.append(f"late_disconnect {cid}")
                        self.notifier.step.clear()
                        self.svc.disconnect(cid)
                        self.settle()
                elif op in ("script_flush", "sweep"):
                    getattr(self, op)()
                elif op == "relax":
                    self.relax(u)
                else:
                    getattr(self, op)(u)
                self.check_all()

        def check_all(self) -> None:
            try:
                self.rooms_are_exclusive_and_symmetric()
                self.no_compatible_pair_waits()
                self.live_clients_know_their_state()
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n" + "\n".join(self.trace[-60:])) from None

        @precondition(lambda self: any(c is None for c in self.conn.values()))
        @rule(u=users)
        def connect(self, u: int) -> None:
            if self.conn[u] is not None:
                return
            self.serial += 1
            cid = f"c{u}-{self.serial}"
            self.notifier.step.clear()
            self.trace.append(f"connect {self.uid(u)} {cid}")
            self.svc.connect(cid, self.uid(u), authenticated=True)
            self.conn[u] = cid
            self.view[cid] = None  # unknown until the server tells it
            self.settle()
            self.act(u, self.svc.heartbeat)  # as clients do: learn what was resumed

        @rule(u=users, g=genders, p=preferences)
        def join(self, u: int, g: str, p: str) -> None:
            self.act(u, self.svc.join, g, p)

        @rule(u=users, again=st.booleans(), g=genders, p=preferences)
        def next(self, u: int, again: bool, g: str, p: str) -> None:
            if again:
                self.act(u, self.svc.next)
            else:
                self.act(u, self.svc.next, g, p)

        @rule(u=users)
        def leave(self, u: int) -> None:
            self.act(u, self.svc.leave)

        @rule(u=users, text=st.text(min_size=1, max_size=20).filter(str.strip))
        def send(self, u: int, text: str) -> None:
            self.act(u, self.svc.send, text)

        @rule(u=users)
        def heartbeat(self, u: int) -> None:
            self.act(u, self.svc.heartbeat)

        @rule(u=users)
        def report(self, u: int) -> None:
            self.act(u, self.svc.report, "reason")

        @rule(u=users)
        def block(self, u: int) -> None:
            self.act(u, self.svc.block)

        @rule(u=users)
        def disconnect(self, u: int) -> None:
            cid = self.conn[u]
            if cid is None:
                return
            self.close(u)
            self.trace.append(f"disconnect {self.uid(u)} {cid}")
            self.svc.disconnect(cid)
            self.settle()

        @rule(u=users)
        def die_silently(self, u: int) -> None:
            cid = self.conn[u]
            if cid is None:
                return
            self.close(u)
            self.trace.append(f"die_silently {self.uid(u)} {cid}")
            self.dead.append(cid)

        @precondition(lambda self: bool(self.dead))
        @rule(data=st.data())
        def late_disconnect(self, data: st.DataObject) -> None:
            cid = data.draw(st.sampled_from(self.dead))
            self.dead.remove(cid)
            self.trace.append(f"late_disconnect {cid}")
            self.notifier.step.clear()
            self.svc.disconnect(cid)
            self.settle()

        @rule(u=users)
        def session_expires(self, u: int) -> None:
            """The TTL ran out (no heartbeat, or an away session's grace ended)."""
            uid = self.uid(u)
            self.trace.append(f"session_expires {uid}")
            conn = self.r.hget(self.k.session(uid), "conn")
            self.r.delete(self.k.session(uid))
            if conn:
                self.r.delete(self.k.connection(conn))

        @rule()
        def script_flush(self) -> None:
            self.r.script_flush()

        @rule()
        def sweep(self) -> None:
            self.notifier.step.clear()
            self.sweeper.run()
            self.settle()

        # -- invariants ---------------------------------------------------------------------

        def sessions(self) -> dict[str, dict[str, str]]:
            return {u: self.r.hgetall(self.k.session(u)) for u in map(self.uid, range(USERS))}

        @invariant()
        def invariants(self) -> None:
            self.check_all()

        def rooms_are_exclusive_and_symmetric(self) -> None:
            sessions = self.sessions()
            member_of: dict[str, str] = {}
            prefix = self.k.room("")
            for key in self.r.scan_iter(self.k.pattern("room")):
                rid = key[len(prefix) :]
                room = self.r.hgetall(key)
                a, b = room["a"], room["b"]
                assert a != b
                for m in (a, b):
                    # A member counts while its session points back here. One whose session
                    # expired (and maybe came back fresh) is gone: the scripts treat the
                    # room as ended when they meet it (relay, heartbeat, reap).
                    if sessions[m].get("room") == rid:
                        assert m not in member_of, f"{m} in two rooms"
                        member_of[m] = rid
            for u, s in sessions.items():
                if "room" in s:
                    assert member_of.get(u) == s["room"], (u, s)
                    assert "q" not in s

        def no_compatible_pair_waits(self) -> None:
            # Every live waiter is listed where its wait state says (a stale entry of a gone
            # session may linger until a search or the sweeper meets it).
            everyone = [self.uid(u) for u in range(USERS)]
            self.before = waiters(self.r, self.k, everyone)
            for w in self.before:
                assert listed(self.r, self.k, w.uid), f"{w.uid} waits but is not listed"
            left = pairs_left_waiting(self.r, self.k, self.pending, everyone)
            assert not left, f"the rule would pair these waiting users: {left}"

        def live_clients_know_their_state(self) -> None:
            for u, cid in self.conn.items():
                view = self.view.get(cid) if cid else None
                if cid is None or view is None:
                    continue
                uid = self.uid(u)
                if self.r.get(self.k.connection(cid)) != uid:
                    continue  # its session expired: its next action says so
                s = self.r.hgetall(self.k.session(uid))
                if s.get("conn") != cid:
                    continue
                state, detail = view
                if state == "room":
                    assert s.get("room") == detail, (uid, view, s)
                elif state == "queued":
                    assert "room" not in s, (uid, view, s)
                    q = s.get("q")
                    assert q and (detail is None or q == detail), (uid, view, s)
                    assert listed(self.r, self.k, uid), (uid, view, s)
                else:
                    assert "room" not in s and "q" not in s, (uid, view, s)

    return Chat


def _run(redis_url: str, settings_: Settings, examples: int, steps: int) -> None:
    run_state_machine_as_test(
        machine(redis_url, settings_),
        settings=hsettings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            # Shrinking a long failing run can take minutes; opt in when debugging one.
            phases=list(Phase)
            if os.environ.get("PAIRCHAT_STATEFUL_SHRINK")
            else [Phase.explicit, Phase.generate],
        ),
    )


def test_randomized_operations_keep_every_invariant(redis_url: str, settings: Settings) -> None:
    _run(
        redis_url,
        settings,
        int(os.environ.get("PAIRCHAT_STATEFUL_EXAMPLES", "50")),
        int(os.environ.get("PAIRCHAT_STATEFUL_STEPS", "60")),
    )


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("PAIRCHAT_SLOW"), reason="set PAIRCHAT_SLOW=1")
def test_long_randomized_run(redis_url: str, settings: Settings) -> None:
    _run(redis_url, settings, 300, 200)
