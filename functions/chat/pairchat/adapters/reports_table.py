"""The durable report store: a DynamoDB table, spoken to over its JSON HTTP API.

The chat functions avoid boto3 on their cold start (bench/coldstart.py: importing it and
building a client costs well over 100 ms), so, like :class:`SignedHttpNotifier`, this client
signs its requests itself (:func:`~pairchat.adapters.management.sigv4_headers`) and sends
them with the standard library: ``PutItem`` from the message function and the sweeper,
``Query`` from the ops API. ``pairchat dev`` serves a DynamoDB-compatible endpoint of its own
(``DYNAMODB_ENDPOINT``), so the same code runs locally; tests run it against moto's server.

The table (template.yaml's ``ReportsTable``): partition key ``pk`` = the pool, sort key
``sk`` = the report id (``<ms>-<hex>``, :mod:`pairchat.domain.reports`), so one ``Query`` per
pool with ``ScanIndexForward=false`` reads a pool's reports newest first and ``sk < before``
pages back. Attributes: ``reporter``, ``reported`` (internal user ids, as the ops API shows
them), ``roomId``, ``reason`` (the reporter's words; omitted when empty), ``ts`` (ms) and
``expires`` (epoch seconds, the table's TTL attribute; omitted with no retention). A pool's
reports share one partition: reports are a few per second at most (report.lua's quotas), far
below a partition's 1,000 writes per second.

Failures: throttling, 5xx and connection errors are retried with jittered exponential
backoff up to ``max_attempts``; then ``put`` raises :class:`ReportNotStored` and ``page``
:class:`ReportStoreUnavailable`. Error messages carry the error type, never an item.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any, Final

from pairchat.adapters.httppool import ConnectionPool
from pairchat.adapters.management import Credentials, sigv4_headers
from pairchat.domain.ports import ReportNotStored
from pairchat.domain.reports import ReportRecord

#: DynamoDB's JSON protocol: every operation is a POST to ``/`` with this target prefix.
TARGET: Final = "DynamoDB_20120810."
CONTENT_TYPE: Final = "application/x-amz-json-1.0"
#: Error types (``__type``'s last part) worth another attempt.
RETRYABLE_TYPES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


class ReportStoreUnavailable(RuntimeError):
    """A read (``Query``) failed after its bounded retries."""


class DynamoDbError(RuntimeError):
    def __init__(self, status: int, error_type: str) -> None:
        super().__init__(f"DynamoDB answered {status} {error_type}")
        self.status = status
        self.error_type = error_type


CredentialSource = Credentials | Callable[[], Credentials]


class DynamoDbReports:
    """:class:`~pairchat.domain.ports.ReportSink` over one DynamoDB table, plus the ops
    API's paged read. Thread-safe: each thread takes a kept-alive connection from a small
    pool (the local stack and the ops app call it from several threads)."""

    def __init__(
        self,
        table: str,
        region: str,
        credentials: CredentialSource,
        endpoint: str | None = None,
        timeout_s: float = 3.0,
        max_attempts: int = 3,
        retention_days: int = 0,
        max_pool_connections: int = 10,
    ) -> None:
        from urllib.parse import urlsplit

        url = urlsplit(endpoint or f"https://dynamodb.{region}.amazonaws.com")
        self.table = table
        self._host = url.netloc
        self._path = url.path or "/"
        self._region = region
        self._credentials = credentials
        self._attempts = max(1, max_attempts)
        self._retention_s = retention_days * 86400
        self._pool = ConnectionPool(
            url.netloc, url.scheme == "https", timeout_s, max_pool_connections
        )

    # -- the port ---------------------------------------------------------------------------

    def put(self, report: ReportRecord) -> None:
        """Writes one report (idempotent: the same report id is the same item)."""
        try:
            self.call("PutItem", {"TableName": self.table, "Item": self.item(report)})
        except (DynamoDbError, OSError) as exc:
            raise ReportNotStored(_describe(exc)) from None

    # -- the ops API's read -------------------------------------------------------------------

    def page(
        self, pool: str, before: str | None = None, limit: int = 50
    ) -> tuple[list[ReportRecord], bool]:
        """One pool's reports newest first, at most ``limit``, older than the id ``before``
        when given; and whether older ones remain. One ``Query`` (of ``limit + 1`` items)."""
        condition = "#pk = :pk"
        values: dict[str, Any] = {":pk": {"S": pool}}
        names = {"#pk": "pk"}
        if before:
            condition += " AND #sk < :before"
            values[":before"] = {"S": before}
            names["#sk"] = "sk"
        payload = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        try:
            answer = self.call("Query", payload)
        except (DynamoDbError, OSError) as exc:
            raise ReportStoreUnavailable(_describe(exc)) from None
        records = [self.record(item) for item in answer.get("Items", [])]
        return records[:limit], len(records) > limit

    # -- items ------------------------------------------------------------------------------

    def item(self, r: ReportRecord) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": r.pool},
            "sk": {"S": r.id},
            "reporter": {"S": r.reporter},
            "reported": {"S": r.reported},
            "roomId": {"S": r.room_id},
            "ts": {"N": str(r.ts_ms)},
        }
        if r.reason:
            item["reason"] = {"S": r.reason}
        if self._retention_s:
            item["expires"] = {"N": str(r.ts_ms // 1000 + self._retention_s)}
        return item

    @staticmethod
    def record(item: dict[str, Any]) -> ReportRecord:
        def text(name: str) -> str:
            value = item.get(name) or {}
            return str(value.get("S") or value.get("N") or "")

        return ReportRecord(
            pool=text("pk"),
            id=text("sk"),
            reporter=text("reporter"),
            reported=text("reported"),
            room_id=text("roomId"),
            reason=text("reason"),
            ts_ms=int(text("ts") or 0),
        )

    # -- HTTP -------------------------------------------------------------------------------

    def call(self, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One DynamoDB operation, retried (bounded, jittered) on throttling, 5xx and
        connection errors. Raises :class:`DynamoDbError` or ``OSError`` after the last."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        extra = {"content-type": CONTENT_TYPE, "x-amz-target": TARGET + operation}
        for attempt in range(1, self._attempts + 1):
            headers = sigv4_headers(
                "POST",
                self._host,
                self._path,
                body,
                self._region,
                "dynamodb",
                self._resolve_credentials(),
                signed=extra,
            )
            try:
                status, raw = self._send(body, headers)
            except OSError:  # refused, reset, timed out (http.client errors included)
                if attempt == self._attempts:
                    raise
            else:
                if 200 <= status < 300:
                    answer: dict[str, Any] = json.loads(raw or b"{}")
                    return answer
                error = DynamoDbError(status, _error_type(raw))
                retry = status >= 500 or error.error_type in RETRYABLE_TYPES
                if not retry or attempt == self._attempts:
                    raise error
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _resolve_credentials(self) -> Credentials:
        if isinstance(self._credentials, Credentials):
            return self._credentials
        try:
            self._credentials = self._credentials()  # looked up once, on the first call
        except Exception as exc:  # botocore's chain found nothing, or failed
            raise DynamoDbError(0, f"NoCredentials ({type(exc).__name__})") from None
        return self._credentials

    def _send(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        return self._pool.post(self._path, body, headers)


def _error_type(raw: bytes) -> str:
    """``ResourceNotFoundException`` from ``{"__type": "com.amazonaws...#ResourceNot..."}``."""
    try:
        kind = json.loads(raw).get("__type", "")
    except (ValueError, AttributeError):
        return "unknown"
    return str(kind).rsplit("#", 1)[-1] or "unknown"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DynamoDbError):
        return str(exc)
    return f"DynamoDB unreachable: {type(exc).__name__}"
