"""The scheduled sweeper: removes what a lost ``$disconnect`` leaves behind.

Sessions and connection keys expire by TTL on their own. What does not expire is a queue
entry (sorted-set members have no TTL) and, while the other member keeps heartbeating, a
room whose partner's session is gone. Each run therefore

* pages through every queue with ``ZSCAN`` and hands each page to ``sweep.lua``, which
  re-checks every entry atomically and removes the stale ones (match.lua's rule);
* pages through ``room:*`` keys with ``SCAN`` and runs ``reap.lua`` on each room, which ends
  a room one of whose members is gone; the survivor is told ``partner_left`` (when the
  Management API endpoint is configured).

Work per run is bounded: at most ``max_queue_entries`` entries per queue and
``max_room_scan`` keys of SCAN work for rooms (``scan_count`` per call; SCAN's MATCH filters on
the server, so only room keys travel, and each one costs one ``reap.lua`` call). The cursors
are kept in Redis (``Keys.sweeper()``), so the next run resumes where this one stopped and
a full pass over any amount of data takes a bounded number of runs. Every write is checked
inside a script, so two overlapping runs are harmless.

Lambda entry point: :func:`handler`, on an EventBridge schedule (template.yaml). By hand (or
under ``pairchat dev``, which has no scheduler): ``pairchat sweep [--redis-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ..keys import Keys
from ..notifier import ManagementApiNotifier, Notifier, management_client
from ..protocol import frame
from ..scripts import Scripts
from ..service import NullTelemetry, Telemetry
from ..settings import Settings
from ..store import ChatStore
from ..telemetry import PowertoolsTelemetry
from .nodes import SlotNode, _s

logger = Logger()
metrics = Metrics()

ROOMS_CURSOR = "rooms"


@dataclass
class SweepResult:
    queue_entries_checked: int = 0
    queue_entries_removed: int = 0
    rooms_checked: int = 0
    rooms_reaped: int = 0
    partners_notified: int = 0
    #: Areas (queue names, ``rooms``) whose cursor came back to 0 in this run.
    passes_completed: int = 0
    duration_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sweeper:
    def __init__(
        self,
        client: Any,
        settings: Settings,
        notifier: Notifier | None = None,
        telemetry: Telemetry | None = None,
        max_queue_entries: int = 2000,
        max_room_scan: int = 50_000,
        page: int = 200,
        scan_count: int = 1000,
    ) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.notifier = notifier
        self.telemetry = telemetry or NullTelemetry()
        self.max_queue_entries = max_queue_entries
        self.max_room_scan = max_room_scan
        self.page = page
        self.scan_count = scan_count
        self.scripts = Scripts(client, ("sweep",))
        self.store = ChatStore(client, settings)
        self.node = SlotNode(client, self.keys.sweeper())

    def run(self) -> SweepResult:
        start = time.perf_counter()
        result = SweepResult()
        raw = self.client.hgetall(self.keys.sweeper()) or {}
        cursors = {_s(k): int(_s(v)) for k, v in raw.items()}
        new_cursors: dict[str, int] = {}
        for gender, preference, key in self.keys.all_queues():
            name = self.keys.queue_name(gender, preference)
            cursor = self._sweep_queue(key, name, cursors.get(name, 0), result)
            new_cursors[name] = cursor
            result.passes_completed += cursor == 0
        cursor = self._sweep_rooms(cursors.get(ROOMS_CURSOR, 0), result)
        new_cursors[ROOMS_CURSOR] = cursor
        result.passes_completed += cursor == 0
        self.client.hset(self.keys.sweeper(), mapping=new_cursors)
        result.duration_ms = round((time.perf_counter() - start) * 1000, 3)
        self._emit(result)
        return result

    def _sweep_queue(self, key: str, name: str, cursor: int, result: SweepResult) -> int:
        seen = 0
        while True:
            cursor, entries = self.client.zscan(key, cursor, count=self.page)
            members = [_s(member) for member, _ in entries]
            seen += len(members)
            for i in range(0, len(members), self.page):
                chunk = members[i : i + self.page]
                reply = self.scripts.run("sweep", key, (self.keys.prefix, "", name, *chunk))
                result.queue_entries_removed += int(reply[1])
                result.queue_entries_checked += int(reply[2])
            if cursor == 0 or seen >= self.max_queue_entries:
                return int(cursor)

    def _sweep_rooms(self, cursor: int, result: SweepResult) -> int:
        prefix = self.keys.room("")
        match = self.keys.pattern("room")
        visited = 0
        while True:
            cursor, keys = self.node.scan(cursor, self.scan_count, match=match)
            visited += self.scan_count
            for key in keys:
                if not key.startswith(prefix):
                    continue
                room_id = key[len(prefix) :]
                result.rooms_checked += 1
                reaped = self.store.reap(room_id)
                if reaped.status == "reaped":
                    result.rooms_reaped += 1
                    if reaped.survivor_connection:
                        result.partners_notified += self._tell_partner_left(
                            reaped.survivor_connection, room_id
                        )
            if cursor == 0 or visited >= self.max_room_scan:
                return cursor

    def _tell_partner_left(self, connection_id: str, room_id: str) -> int:
        if self.notifier is None:
            return 0
        if self.notifier.post(connection_id, frame("partner_left", roomId=room_id)):
            return 1
        # Gone too: erase that connection's state now rather than at its TTL.
        self.store.leave(connection_id, "gone")
        return 0

    def _emit(self, result: SweepResult) -> None:
        self.telemetry.count("SweptQueueEntries", result.queue_entries_removed)
        self.telemetry.count("SweptRooms", result.rooms_reaped)
        self.telemetry.timing("SweepDuration", result.duration_ms)


# -- Lambda entry point ---------------------------------------------------------------------


_sweeper: Sweeper | None = None


def sweeper() -> Sweeper:
    """Created on the first invocation of a container and kept for the next ones."""
    global _sweeper
    if _sweeper is None:
        from ..handlers.runtime import management_notifier, redis_client

        s = Settings.from_env()
        notifier: Notifier | None = None
        if s.management_endpoint:
            # The signed HTTP notifier the chat handlers use: no boto3 on the cold start.
            notifier = management_notifier(s.management_endpoint, s)
        _sweeper = Sweeper(redis_client(s), s, notifier, PowertoolsTelemetry(metrics))
    return _sweeper


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweeper().run().as_dict()
    logger.info("swept", extra=result)
    return result


# -- ``pairchat sweep``: one run by hand ------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .cliargs import add_redis_arguments

    add_redis_arguments(parser)
    parser.add_argument(
        "--management-endpoint",
        help="tell survivors of reaped rooms partner_left through this Management API "
        "(default: MANAGEMENT_ENDPOINT; without one nobody is told)",
    )


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from ..handlers.runtime import redis_client
    from .cliargs import settings_from_args

    endpoint = {"management_endpoint": args.management_endpoint} if args.management_endpoint else {}
    s = settings_from_args(args, **endpoint)
    notifier: Notifier | None = None
    if s.management_endpoint:
        notifier = ManagementApiNotifier(management_client(s.management_endpoint, s.aws_region))
    try:
        result = Sweeper(redis_client(s), s, notifier).run()
    except RedisError as exc:
        print(f"redis unavailable at {s.redis_url}: {exc}")
        return 2
    print(json.dumps(result.as_dict(), indent=2))
    return 0
