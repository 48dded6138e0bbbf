"""The chat domain: what each client action does, in terms of the store and the notifier.

Over 400 lines on purpose: every client action's orchestration (and its 410 handling) reads
best side by side; the parts with their own concerns live apart (rtc, textfilter, sweeper).

Knows nothing of Lambda events or HTTP. Frames go out through a :class:`Notifier`; a post
that meets a gone connection (410) erases that connection's state and tells its partner,
so nobody is left in a room with a dead peer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pairchat.domain.errors import PairchatError
from pairchat.domain.identity import anonymous_user_id, partner_alias
from pairchat.domain.ports import (
    DeliveryFailed,
    Notifier,
    NullTelemetry,
    ReportNotStored,
    ReportSink,
    Telemetry,
)
from pairchat.domain.protocol import (
    Block,
    Command,
    Heartbeat,
    Join,
    Leave,
    Next,
    Report,
    Send,
    Signal,
    Typing,
    frame,
)
from pairchat.domain.reports import PendingReports, ReportRecord
from pairchat.domain.rtc import IceConfig
from pairchat.domain.store import ChatStore, JoinMode, MatchResult, QueueStatus
from pairchat.domain.textfilter import TextFilter
from pairchat.settings import Settings

log = logging.getLogger(__name__)


def _status_fields(status: QueueStatus) -> dict[str, Any]:
    return {
        "online": status.online,
        "etaMs": status.eta_ms,
        "onlyRecent": status.only_recent,
        "retryMs": status.retry_ms,
    }


def new_room_id() -> str:
    return str(uuid.uuid4())


def new_user_id() -> str:
    return anonymous_user_id()


@dataclass(frozen=True)
class Caller:
    """Who sent a frame, as the ``$connect`` authorizer decided (never a frame's field)."""

    #: '' when unknown: the scripts then read it from the connection key (one more read).
    user_id: str = ""
    #: The id is a verified token's subject, the same in every pool.
    authenticated: bool = False
    #: The client's address as an opaque key ('' unknown), for the limits per address.
    source: str = ""


UNKNOWN = Caller()


@dataclass(frozen=True)
class Reaped:
    """What :meth:`ChatService.reap_room` did."""

    reaped: bool
    #: The survivor was told ``partner_left``.
    told: bool


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        notifier: Notifier,
        settings: Settings,
        telemetry: Telemetry | None = None,
        room_ids: Callable[[], str] = new_room_id,
        text_filter: TextFilter | None = None,
        ice: IceConfig | None = None,
        block_mirrors: Sequence[ChatStore] = (),
        reports: ReportSink | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.settings = settings
        self.telemetry = telemetry or NullTelemetry()
        self._room_ids = room_ids
        #: Applied to every ``send`` before the relay (None: text passes unchanged).
        self.text_filter = text_filter
        #: What ``matched`` tells a page about direct connections (bootstrap passes one that
        #: fetches the TURN secret from SSM).
        self.ice = ice or IceConfig(settings)
        #: The stores of the other pools: a token user's block is written into each of them.
        self.block_mirrors = tuple(block_mirrors)
        #: The durable report store (DynamoDB). None: accepted reports stay in the capped
        #: Redis stream (``pending``), as before there was a store.
        self.reports = reports
        #: Accepted reports not (yet) in ``reports``: parked when a write fails, moved by
        #: the sweeper (:meth:`store_pending_reports`).
        self.pending = PendingReports(store.client, store.keys, store.pool, settings.reports_max)

    # -- connection lifecycle -------------------------------------------------------------

    def connect(
        self,
        connection_id: str,
        user_id: str | None = None,
        authenticated: bool = False,
        source: str = "",
    ) -> str:
        """Opens a session for a new connection. The user id is the server's to decide:
        generated, or the subject of a verified token (``authenticated``), whose session
        may then be resumed after a lost socket. Raises
        :class:`~pairchat.domain.errors.RateLimited` (nothing written) when ``source`` (the
        client's address as an opaque key) opened too many connections in the window."""
        uid = user_id or new_user_id()
        result = self.store.open_session(connection_id, uid, authenticated, source)
        self.telemetry.count("Connects")
        if result.resumed_room_id:
            self.telemetry.count("Resumes")
            partner = result.partner_connection
            back = frame("partner_back", roomId=result.resumed_room_id)
            if partner and not self.notifier.post(partner, back):
                # The partner died meanwhile: end the room. The connecting socket cannot be
                # told before $connect returns; its first heartbeat answers `idle`.
                self.telemetry.count("GoneConnections")
                self.store.leave(partner, "gone")
        return uid

    def disconnect(self, connection_id: str, caller: Caller = UNKNOWN) -> None:
        result = self.store.leave(connection_id, "disconnect", caller.user_id)
        if result.away:
            grace_ms = self.settings.reconnect_grace_s * 1000
            self._post_or_drop(
                result.partner_connection,
                frame("partner_reconnecting", roomId=result.room_id, graceMs=grace_ms),
            )
        elif result.partner_connection:
            self._tell_partner_left(result.partner_connection, result.room_id)

    def reap_room(self, room_id: str, announce: bool = True) -> Reaped:
        """Ends a room whose partner's session is gone (the sweeper's job) and tells the
        survivor ``partner_left`` when ``announce``; a survivor found gone is erased too."""
        result = self.store.reap(room_id)
        if result.status != "reaped":
            return Reaped(reaped=False, told=False)
        self.telemetry.count("RoomsReaped")
        told = False
        if announce and result.survivor_connection:
            told = self.notifier.post(
                result.survivor_connection, frame("partner_left", roomId=room_id)
            )
            if not told:
                self._drop(result.survivor_connection)
        return Reaped(reaped=True, told=told)

    # -- client actions ---------------------------------------------------------------------

    def handle(self, connection_id: str, command: Command, caller: Caller = UNKNOWN) -> None:
        """Runs one parsed client command. Domain refusals raise :class:`PairchatError`."""
        if isinstance(command, Join):
            self.join(
                connection_id,
                command.gender,
                command.preference,
                command.interests,
                command.fallback,
                caller,
            )
        elif isinstance(command, Next):
            self.next(
                connection_id,
                command.gender,
                command.preference,
                command.interests,
                command.fallback,
                caller,
            )
        elif isinstance(command, Send):
            self.send(connection_id, command.text, command.mid, caller)
        elif isinstance(command, Signal):
            self.signal(connection_id, command.data, caller)
        elif isinstance(command, Leave):
            self.leave(connection_id, caller)
        elif isinstance(command, Heartbeat):
            self.heartbeat(connection_id, caller)
        elif isinstance(command, Report):
            self.report(connection_id, command.reason, caller)
        elif isinstance(command, Block):
            self.block(connection_id, caller)
        elif isinstance(command, Typing):
            self.typing(connection_id, command.typing, caller)
        else:  # pragma: no cover - exhaustive
            raise TypeError(f"unhandled command {command!r}")

    def join(
        self,
        connection_id: str,
        gender: str,
        preference: str,
        interests: tuple[str, ...] = (),
        fallback: bool = True,
        caller: Caller = UNKNOWN,
    ) -> None:
        """Pairs by the matching rule or queues. ``interests`` must be normalized
        (:func:`~pairchat.domain.protocol.normalize_interests`)."""
        self.telemetry.count("Joins")
        self._pair(connection_id, "join", gender, preference, interests, fallback, caller)

    def next(
        self,
        connection_id: str,
        gender: str = "",
        preference: str = "",
        interests: tuple[str, ...] | None = None,
        fallback: bool | None = None,
        caller: Caller = UNKNOWN,
    ) -> None:
        """Leaves the room, then joins again; what is not given is the last join's."""
        self.telemetry.count("Nexts")
        self._pair(connection_id, "next", gender, preference, interests, fallback, caller)

    def send(self, connection_id: str, text: str, mid: str = "", caller: Caller = UNKNOWN) -> None:
        """Relays text to the partner. Raises :class:`PartnerAway` while the partner is
        within its reconnect grace (nothing is queued for it), and
        :class:`~pairchat.domain.errors.TextRefused` (before any Redis call) when the text
        filter blocks the message."""
        if self.text_filter is not None and self.text_filter.enabled:
            filtered = self.text_filter.apply(text)
            if filtered is not text:
                self.telemetry.count("MessagesMasked")
            text = filtered
        fields: dict[str, Any] = {"text": text, "mid": mid} if mid else {"text": text}
        self._relay(connection_id, "message", fields, "Messages", caller)

    def signal(self, connection_id: str, data: dict[str, Any], caller: Caller = UNKNOWN) -> None:
        """Passes an opaque WebRTC signaling object to the partner: the same script call,
        room resolution and rate limit as ``send``; its content is neither read, stored
        nor logged (nor filtered: it is not text the stranger reads)."""
        self._relay(connection_id, "signal", {"data": data}, "Signals", caller)

    def _relay(
        self,
        connection_id: str,
        type_: str,
        fields: dict[str, Any],
        metric: str,
        caller: Caller,
    ) -> None:
        relay = self.store.relay(connection_id, caller.user_id)
        if relay.partner_gone:
            self._post_or_drop(connection_id, frame("partner_left", roomId=relay.room_id))
            return
        delivered = self.notifier.post(
            relay.partner_connection, frame(type_, roomId=relay.room_id, **fields)
        )
        if delivered:
            self.telemetry.count(metric)
        else:
            self._drop(relay.partner_connection)

    def leave(self, connection_id: str, caller: Caller = UNKNOWN) -> None:
        result = self.store.leave(connection_id, "leave", caller.user_id)
        if result.partner_connection:
            self._tell_partner_left(result.partner_connection, result.room_id)
        self._post_or_drop(connection_id, frame("left", roomId=result.room_id or None))

    def heartbeat(self, connection_id: str, caller: Caller = UNKNOWN) -> None:
        result = self.store.heartbeat(connection_id, self._room_ids(), caller.user_id)
        if result.left_room_id:
            self._tell_partner_left(connection_id, result.left_room_id)
        if result.state == "room":
            alias = self.alias(result.room_id, result.partner_id)
            pong = frame("pong", state="room", roomId=result.room_id, partnerId=alias)
        elif result.status is not None:
            pong = frame("pong", state="queued", **_status_fields(result.status))
        else:
            pong = frame("pong", state=result.state)
        self._post_or_drop(connection_id, pong)
        if result.match is not None:
            # The waiter searched again (something changed since its last search) and found
            # someone: announced like a join's pair.
            self.telemetry.count("RetryMatches")
            self._settle(connection_id, result.match, caller)

    def typing(self, connection_id: str, typing: bool, caller: Caller = UNKNOWN) -> None:
        """Best effort: a dropped indicator (over 2 a second, partner gone) is silent."""
        target = self.store.typing(connection_id, caller.user_id)
        if target is None:
            return
        indicator = frame("typing", roomId=target.room_id, typing=typing)
        if not self.notifier.post(target.partner_connection, indicator):
            self._drop(target.partner_connection)

    def report(self, connection_id: str, reason: str, caller: Caller = UNKNOWN) -> None:
        """Files a report about the partner the server knows (never one named by the client).
        report.lua applies the quotas (per reporter and per ``caller.source`` address,
        hourly) and the room's minimum age, refusing with ``rate_limited``/``too_soon``
        before it counts anything, and shadows a user several distinct addresses reported;
        the reported user is never told. An accepted report goes to the durable store; the
        reason is stored, never logged."""
        result = self.store.report(connection_id, caller.source, caller.user_id)
        if result.accepted:
            self.telemetry.count("Reports")
            if result.shadowed:
                self.telemetry.count("UsersShadowed")
            self._keep_report(
                ReportRecord.new(
                    self.store.pool,
                    result.ts_ms,
                    result.user_id,
                    result.reported_id,
                    result.room_id,
                    reason,
                )
            )
        self._post_or_drop(connection_id, frame("reported", roomId=result.room_id))

    def _keep_report(self, report: ReportRecord) -> None:
        """Writes an accepted report to the durable store. When the store fails (after its
        bounded retries) the report is parked in Redis for the sweeper to write later, and
        the reporter is still told ``reported``: the quota is spent and the report is kept.
        Logged without content (no ids, no reason); counted as ``ReportStoreFailures``."""
        if self.reports is None:
            self.pending.park(report)
            return
        try:
            self.reports.put(report)
        except ReportNotStored as exc:
            log.warning("report store failed (%s); report parked in Redis", type(exc).__name__)
            self.telemetry.count("ReportStoreFailures")
            self.pending.park(report)

    def store_pending_reports(self, limit: int = 100) -> int:
        """Moves up to ``limit`` parked reports to the durable store, oldest first; stops at
        the first failure (the next sweep tries again). Returns how many moved. Two runs at
        once are harmless: a report written twice is one item (its id)."""
        if self.reports is None:
            return 0
        moved = 0
        for entry_id, report in self.pending.oldest(limit):
            try:
                self.reports.put(report)
            except ReportNotStored:
                log.warning("report store still failing; %d parked reports left", len(self.pending))
                self.telemetry.count("ReportStoreFailures")
                break
            self.pending.remove(entry_id)
            moved += 1
        if moved:
            self.telemetry.count("ReportsUnparked", moved)
        return moved

    def block(self, connection_id: str, caller: Caller = UNKNOWN) -> None:
        """Blocks the partner the server knows; a live room with it ends. A token user's
        block is also written into every other pool (one script call each), so it holds
        wherever the user goes; an anonymous id never recurs, so its block stays here."""
        result = self.store.block(connection_id, caller.user_id)
        self.telemetry.count("Blocks")
        if caller.authenticated:
            self._mirror_block(result.user_id, result.partner_id)
        if result.detail:
            self._tell_partner_left(result.detail, result.room_id)
        self._post_or_drop(connection_id, frame("blocked", roomId=result.room_id))

    def reject(self, connection_id: str, error: PairchatError) -> None:
        """Tells the client why its frame was refused."""
        self.telemetry.count(f"Error_{error.code}")
        fields = {"code": error.code, "message": error.message}
        if error.ref is not None:
            fields["ref"] = error.ref
        self._post_or_drop(connection_id, frame("error", **fields))

    # -- internals --------------------------------------------------------------------------

    def alias(self, room_id: str, user_id: str) -> str:
        """The id strangers see for ``user_id`` in ``room_id`` (never the user id itself)."""
        return partner_alias(self.settings.alias_key, room_id, user_id)

    def _mirror_block(self, user_id: str, blocked_id: str) -> None:
        """Best effort: the block already holds in this pool; a pool that cannot be written
        now is logged and counted, and the user is still told ``blocked``."""
        for mirror in self.block_mirrors:
            try:
                mirror.mirror_block(user_id, blocked_id)
            except Exception:
                log.exception("could not mirror a block into pool %s", mirror.pool)
                self.telemetry.count("BlockMirrorFailures")

    def _pair(
        self,
        connection_id: str,
        mode: JoinMode,
        gender: str,
        preference: str,
        interests: tuple[str, ...] | None,
        fallback: bool | None,
        caller: Caller,
    ) -> None:
        result = self.store.match(
            connection_id,
            mode,
            gender,
            preference,
            self._room_ids(),
            interests,
            fallback,
            caller.source,
            caller.user_id,
        )
        if result.left_partner_connection:
            self._tell_partner_left(result.left_partner_connection, result.left_room_id)
        if result.stale_removed:
            self.telemetry.count("StaleWaitersRemoved", result.stale_removed)
        self._settle(connection_id, result, caller)

    def _settle(self, connection_id: str, result: MatchResult, caller: Caller) -> None:
        """Announces a reserved pair, re-pairing (bounded) while the partner proves dead."""
        attempts = 0
        while result.matched:
            outcome = self._announce(connection_id, result)
            if outcome != "waiter_gone":
                return
            # The waiter was dead although its session had not expired yet. The joiner was
            # told nothing; pair it again (bounded), then just queue it.
            attempts += 1
            mode: JoinMode = "join" if attempts <= self.settings.rematch_attempts else "queue"
            # The server's doing, not the client's: not counted against its address.
            result = self.store.match(
                connection_id,
                mode,
                result.gender,
                result.preference,
                self._room_ids(),
                None,
                None,
                user_id=caller.user_id,
            )
        status = result.status
        assert status is not None, "a queued result carries its status"
        queued = frame(
            "queued",
            queue=result.queue,
            interests=list(result.interests),
            fallback=result.fallback,
            **_status_fields(status),
        )
        self._post_or_drop(connection_id, queued)

    def _announce(self, connection_id: str, result: MatchResult) -> str:
        """Tells both users of a reserved pair: the waiter first, then the joiner."""
        room = result.room_id
        shared = {"commonInterests": list(result.common_interests), "relaxed": result.relaxed}
        waiter_frame = frame(
            "matched",
            roomId=room,
            partnerId=self.alias(room, result.user_id),
            **shared,
            **self._rtc(),
        )
        if not self._deliver(result.partner_connection, waiter_frame):
            self.telemetry.count("GoneConnections")
            self.store.leave(result.partner_connection, "gone")  # dissolves the room too
            return "waiter_gone"
        joiner_frame = frame(
            "matched",
            roomId=room,
            partnerId=self.alias(room, result.partner_id),
            **shared,
            **self._rtc(),
        )
        if not self._deliver(connection_id, joiner_frame):
            self._drop(connection_id)  # tells the waiter partner_left
            return "joiner_gone"
        self.telemetry.count("Matches")
        self.telemetry.timing("WaitBeforeMatch", result.waited_ms)
        return "matched"

    def _rtc(self) -> dict[str, Any]:
        """``matched``'s ``rtc`` field: each user gets its own (TURN credentials differ)."""
        config = self.ice.for_client()
        return {"rtc": config} if config is not None else {}

    def _deliver(self, connection_id: str, data: dict[str, Any]) -> bool:
        """A ``matched`` post. Failing after the notifier's bounded retries (throttling,
        5xx) counts as gone: a pair one side was not told of must not stand."""
        try:
            return self.notifier.post(connection_id, data)
        except DeliveryFailed:
            log.warning("matched frame undeliverable after retries; treating it as gone")
            self.telemetry.count("DeliveryFailures")
            return False

    def _tell_partner_left(self, partner_connection: str, room_id: str) -> None:
        self._post_or_drop(partner_connection, frame("partner_left", roomId=room_id))

    def _post_or_drop(self, connection_id: str, data: dict[str, Any]) -> None:
        if not self.notifier.post(connection_id, data):
            self._drop(connection_id)

    def _drop(self, connection_id: str) -> None:
        """A post met 410: erase the connection and tell its partner, if it had one."""
        self.telemetry.count("GoneConnections")
        result = self.store.leave(connection_id, "gone")
        if result.partner_connection:
            self._tell_partner_left(result.partner_connection, result.room_id)
