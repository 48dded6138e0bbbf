"""Per-connection throttling: what stops one socket's burst from queueing without bound.

API Gateway throttles WebSocket messages with token buckets (account, stage and route
settings: ``ThrottlingRateLimit``/``ThrottlingBurstLimit``) and answers a throttled message
on the socket with ``{"message": "Too Many Requests", "connectionId": ..., "requestId": ...}``
instead of invoking the integration; Lambda's concurrency limit bounds what runs at once.
The emulator has no account or fleet to share, so it mirrors that per connection, where the
harm was (one socket's burst once queued ~87,000 invocations and stalled every new
handshake for minutes):

- a token bucket per connection (``rate`` frames per second, ``burst`` at once), and
- a cap on that connection's invocations under way (``in_flight``).

A frame over either limit is not parsed, not routed and not invoked; the client gets API
Gateway's ``Too Many Requests`` frame. Those notices are bounded too (at most
:data:`MAX_PENDING_NOTICES` not yet written per connection; past that the frame is dropped
silently), so a client that sends without reading cannot grow the gateway's memory either.
Every invocation a connection can have queued is bounded by ``in_flight``, so a new
connection's ``$connect`` waits behind at most ``in_flight`` frames of each other socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from pairchat_tools.local.events import Connection

#: Throttle notices queued for one socket and not yet written.
MAX_PENDING_NOTICES = 8
#: What API Gateway sends a client whose message it throttled (spacing as its other errors).
TOO_MANY_REQUESTS = '{{"message": "Too Many Requests", "connectionId":"{}", "requestId":"{}"}}'


@dataclass(frozen=True)
class ThrottleLimits:
    #: Frames per second a connection's bucket refills; 0 turns the bucket off.
    rate: float = 50.0
    #: Frames a connection may send at once (the bucket's size).
    burst: int = 100
    #: Invocations of one connection under way at once; 0 turns the cap off.
    in_flight: int = 10

    def start(self, conn: Connection, now: float) -> None:
        """A new connection starts with a full bucket."""
        conn.tokens = float(self.burst)
        conn.tokens_mono = now

    def admit(self, conn: Connection, now: float) -> bool:
        """Takes a token and an in-flight slot for one frame, or says it is throttled."""
        if self.in_flight and conn.in_flight >= self.in_flight:
            return False
        if self.rate:
            tokens = min(float(self.burst), conn.tokens + (now - conn.tokens_mono) * self.rate)
            conn.tokens_mono = now
            if tokens < 1.0:
                conn.tokens = tokens
                return False
            conn.tokens = tokens - 1.0
        conn.in_flight += 1
        return True

    @staticmethod
    def release(conn: Connection) -> None:
        """The frame's invocation ended (or never started)."""
        conn.in_flight -= 1
