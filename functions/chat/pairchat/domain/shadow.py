"""The shadow pool as operators see it: who is shadowed, until when, and lifting it.

lua/report.lua shadows a user that ``SHADOW_REPORTERS`` distinct reporters (counted by client
address) reported within ``SHADOW_WINDOW_SECONDS``: it sets ``shadow:<uid>`` (the cooldown's
end in ms, expiring then), which match.lua reads to pair that user only with others in the
same state, and lists the user in the ``shadowed`` sorted set (scored by the same end) so
the ops API can page through them without a SCAN. Nobody tells the user.

Reading is bounded (one ``ZCOUNT``, one ``ZREVRANGEBYSCORE ... LIMIT``, then two commands per
listed user). Lifting deletes the flag, the listing and the user's recent reporters (or the
next single report would flag it again at once); three commands, not atomic, and need not be:
a report arriving in between counts from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pairchat.domain.keys import Keys
from pairchat.domain.nodes import as_text


@dataclass(frozen=True)
class ShadowedUser:
    user_id: str
    #: When the cooldown ends (ms, Redis time) and how long is left.
    until_ms: int
    remaining_ms: int
    #: Distinct reporters (by address) within the shadow window, as of now.
    reporters: int


class ShadowPool:
    """One pool's shadowed users (its keys: one slot)."""

    def __init__(self, client: Any, keys: Keys, window_ms: int) -> None:
        self.client = client
        self.keys = keys
        self.window_ms = window_ms

    def count(self, now_ms: int) -> int:
        return int(self.client.zcount(self.keys.shadowed(), f"({now_ms}", "+inf"))

    def page(self, now_ms: int, offset: int = 0, limit: int = 50) -> tuple[int, list[ShadowedUser]]:
        """(how many are shadowed, one page of them, the latest-flagged first)."""
        key = self.keys.shadowed()
        pipe = self.client.pipeline(transaction=False)
        pipe.zcount(key, f"({now_ms}", "+inf")
        pipe.zrevrangebyscore(key, "+inf", f"({now_ms}", start=offset, num=limit, withscores=True)
        total, entries = pipe.execute()
        users = [as_text(member) for member, _ in entries]
        pipe = self.client.pipeline(transaction=False)
        for uid in users:
            pipe.pttl(self.keys.shadow(uid))
            pipe.zcount(self.keys.reporters(uid), now_ms - self.window_ms, "+inf")
        raw = pipe.execute() if users else []
        out = []
        for i, (uid, (_, score)) in enumerate(zip(users, entries, strict=True)):
            pttl, reporters = int(raw[2 * i]), int(raw[2 * i + 1])
            if pttl <= 0:
                continue  # lifted or expired meanwhile: the listing is trimmed lazily
            out.append(ShadowedUser(uid, int(score), pttl, reporters))
        return int(total), out

    def lift(self, user_id: str) -> bool:
        """Ends ``user_id``'s cooldown now; False when it was not shadowed."""
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.keys.shadow(user_id))
        pipe.zrem(self.keys.shadowed(), user_id)
        pipe.delete(self.keys.reporters(user_id))
        flag, listed, _ = pipe.execute()
        return bool(flag) or bool(listed)
