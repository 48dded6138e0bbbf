"""A DynamoDB-compatible endpoint for ``pairchat dev``: the report store without AWS.

The chat and ops code write and read reports through DynamoDB's JSON API
(:mod:`pairchat.adapters.reports_table`); under ``pairchat dev`` ``DYNAMODB_ENDPOINT`` points
at this endpoint (``/_aws/dynamodb`` on the gateway's port), so the code that runs locally is
the Lambda code. It serves what pairchat uses of DynamoDB, for the tables it is given (each
with the template's key schema: partition key ``pk``, sort key ``sk``, both strings):

* ``PutItem`` (no condition expressions), ``GetItem``, ``DeleteItem``, ``DescribeTable``;
* ``Query`` with ``KeyConditionExpression`` ``pk = :v`` and optionally ``AND sk <op> :w``
  (``=``, ``<``, ``<=``, ``>``, ``>=``; names may go through ``ExpressionAttributeNames``),
  ``ScanIndexForward``, ``Limit`` and ``ExclusiveStartKey``; ``LastEvaluatedKey`` when more
  items remain.

Anything else is refused as DynamoDB refuses it (``UnknownOperationException``,
``ValidationException``, ``ResourceNotFoundException``), so a client that drifts from what
AWS accepts fails here too. Items are kept, as DynamoDB JSON, in a SQLite file (the stack's
state directory by default, ``pairchat dev --reports-db``). The TTL attribute is not acted on.
Requests must be SigV4-signed with the stack's key when it is bound beyond loopback (the
Management API's rule, ``guard.py``).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pairchat_tools.local.guard import sigv4_valid
from pairchat_tools.local.management_api import Receive, Scope, Send, read_body, respond

#: Where the gateway serves it.
PATH = "/_aws/dynamodb"
TARGET_PREFIX = "DynamoDB_20120810."
_ERROR_NS = "com.amazonaws.dynamodb.v20120810#"
_CONTENT_TYPE = b"application/x-amz-json-1.0"
_KEY_CONDITION = re.compile(
    r"^\s*(?P<pk>#?\w+)\s*=\s*(?P<pv>:\w+)"
    r"(?:\s+AND\s+(?P<sk>#?\w+)\s*(?P<op><=|>=|=|<|>)\s*(?P<sv>:\w+))?\s*$",
    re.I,
)
_OPS = {"=": "=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class DynamoError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class ReportTables:
    """The tables' items in one SQLite file. Thread-safe (one connection, one lock)."""

    def __init__(self, path: Path | str, tables: Iterable[str]) -> None:
        self.path = Path(path)
        self.tables = frozenset(tables)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS items (tbl TEXT NOT NULL, pk TEXT NOT NULL, "
                "sk TEXT NOT NULL, item TEXT NOT NULL, PRIMARY KEY (tbl, pk, sk))"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- operations -------------------------------------------------------------------------

    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method = {
            "PutItem": self.put_item,
            "GetItem": self.get_item,
            "DeleteItem": self.delete_item,
            "Query": self.query,
            "DescribeTable": self.describe_table,
        }.get(operation)
        if method is None:
            raise DynamoError("UnknownOperationException", f"not supported here: {operation}")
        return method(request)

    def _table(self, request: dict[str, Any]) -> str:
        name = request.get("TableName")
        if not isinstance(name, str) or name not in self.tables:
            raise DynamoError("ResourceNotFoundException", "Requested resource not found")
        return name

    def describe_table(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._table(request)
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM items WHERE tbl = ?", (name,)
            ).fetchone()
        return {
            "Table": {
                "TableName": name,
                "TableStatus": "ACTIVE",
                "ItemCount": count,
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            }
        }

    def put_item(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._table(request)
        if "ConditionExpression" in request:
            raise DynamoError("ValidationException", "condition expressions are not emulated")
        item = request.get("Item")
        if not isinstance(item, dict):
            raise DynamoError("ValidationException", "Item is required")
        pk, sk = _key_of(item)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO items (tbl, pk, sk, item) VALUES (?, ?, ?, ?)",
                (name, pk, sk, json.dumps(item)),
            )
        return {}

    def get_item(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._table(request)
        pk, sk = _key_of(request.get("Key"))
        with self._lock:
            row = self._db.execute(
                "SELECT item FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (name, pk, sk)
            ).fetchone()
        return {"Item": json.loads(row[0])} if row else {}

    def delete_item(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._table(request)
        pk, sk = _key_of(request.get("Key"))
        with self._lock, self._db:
            self._db.execute(
                "DELETE FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (name, pk, sk)
            )
        return {}

    def query(self, request: dict[str, Any]) -> dict[str, Any]:
        name = self._table(request)
        match = _KEY_CONDITION.match(str(request.get("KeyConditionExpression") or ""))
        if match is None:
            raise DynamoError("ValidationException", "unsupported KeyConditionExpression")
        names = request.get("ExpressionAttributeNames") or {}
        values = request.get("ExpressionAttributeValues") or {}

        def attribute(token: str) -> str:
            return str(names.get(token, token)) if token.startswith("#") else token

        def value(token: str) -> str:
            typed = values.get(token)
            if not isinstance(typed, dict) or not isinstance(typed.get("S"), str):
                raise DynamoError("ValidationException", f"{token}: a string value is required")
            return str(typed["S"])

        if attribute(match["pk"]) != "pk" or (match["sk"] and attribute(match["sk"]) != "sk"):
            raise DynamoError("ValidationException", "Query condition missed key schema element")
        forward = request.get("ScanIndexForward", True) is not False
        limit = request.get("Limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise DynamoError("ValidationException", "Limit must be a positive integer")
        sql = "SELECT sk, item FROM items WHERE tbl = ? AND pk = ?"
        params: list[Any] = [name, value(match["pv"])]
        if match["sk"]:
            sql += f" AND sk {_OPS[match['op']]} ?"
            params.append(value(match["sv"]))
        start = request.get("ExclusiveStartKey")
        if start is not None:
            sql += " AND sk > ?" if forward else " AND sk < ?"
            params.append(_key_of(start)[1])
        sql += " ORDER BY sk " + ("ASC" if forward else "DESC")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit + 1)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        items = [json.loads(item) for _, item in rows]
        answer: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        if more and items:
            answer["LastEvaluatedKey"] = {"pk": items[-1]["pk"], "sk": items[-1]["sk"]}
        return answer


def _key_of(item: Any) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise DynamoError("ValidationException", "a key is required")
    parts = []
    for name in ("pk", "sk"):
        typed = item.get(name)
        if not isinstance(typed, dict) or not isinstance(typed.get("S"), str) or not typed["S"]:
            raise DynamoError(
                "ValidationException",
                "One or more parameter values were invalid: Missing the key " + name,
            )
        parts.append(str(typed["S"]))
    return parts[0], parts[1]


class DynamoDbEndpoint:
    """The ASGI side: ``POST /_aws/dynamodb`` with ``X-Amz-Target: DynamoDB_20120810.<Op>``."""

    def __init__(self, tables: ReportTables, credentials: tuple[str, str] | None = None) -> None:
        self.tables = tables
        #: (access key id, secret) every request must be signed with; None on loopback.
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if self.credentials is not None and not sigv4_valid(scope, body, *self.credentials):
            await _error(send, DynamoError("UnrecognizedClientException", "bad signature"))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        target = headers.get("x-amz-target", "")
        if scope["method"] != "POST" or not target.startswith(TARGET_PREFIX):
            await _error(send, DynamoError("UnknownOperationException", "not a DynamoDB call"))
            return
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError:
            await _error(send, DynamoError("SerializationException", "the body is not JSON"))
            return
        operation = target[len(TARGET_PREFIX) :]
        try:
            answer = await asyncio.to_thread(self.tables.handle, operation, request)
        except DynamoError as exc:
            await _error(send, exc)
            return
        await respond(send, 200, json.dumps(answer).encode(), _CONTENT_TYPE)


async def _error(send: Send, error: DynamoError) -> None:
    body = json.dumps({"__type": _ERROR_NS + error.kind, "message": error.message}).encode()
    await respond(send, error.status, body, _CONTENT_TYPE)
