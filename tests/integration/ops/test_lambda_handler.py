"""The Mangum handler with real HTTP API (payload 2.0) events, as API Gateway sends them."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from pairchat.domain.service import ChatService
from pairchat.settings import Settings
from pairchat_ops.api import app
from pairchat_ops.lambda_handler import handler
from tests.integration.conftest import override

pytestmark = pytest.mark.integration


class Context:
    function_name = "OpsFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ops"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def http_event(path: str, query: str = "", method: str = "GET") -> dict[str, Any]:
    """An HTTP API v2 event for the ``$default`` stage, signed in with IAM."""
    return {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": {
            "accept": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "awscurl/0.33",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if p) or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "authorizer": {
                "iam": {
                    "accessKey": "AKIAEXAMPLE",
                    "accountId": "123456789012",
                    "callerId": "AIDAEXAMPLE",
                    "principalOrgId": None,
                    "userArn": "arn:aws:iam::123456789012:user/operator",
                    "userId": "AIDAEXAMPLE",
                }
            },
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "awscurl/0.33",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "ANY /{proxy+}",
            "stage": "$default",
            "time": "25/Nov/2026:18:00:00 +0000",
            "timeEpoch": 1795629600000,
        },
        "pathParameters": {"proxy": path.lstrip("/")},
        "isBase64Encoded": False,
    }


@pytest.fixture
def wired(settings: Settings, redis_client: redis.Redis) -> Iterator[None]:
    # Mangum runs the app on asyncio.get_event_loop(), as in a fresh Lambda process; an
    # earlier asyncio.run() in this worker leaves none set, so give it one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    override(app, settings, redis_client)
    yield
    app.dependency_overrides.clear()
    asyncio.set_event_loop(None)
    loop.close()


def body_of(response: dict[str, Any]) -> Any:
    raw = response["body"]
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return json.loads(raw)


def test_stats_through_mangum(wired: None, service: ChatService) -> None:
    service.connect("a")
    service.join("a", "male", "any")
    response = handler(http_event("/stats"), Context())
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    body = body_of(response)
    assert body["users_waiting"] == 1 and body["live_sessions"]["value"] == 1


def test_query_strings_and_404_through_mangum(wired: None, service: ChatService) -> None:
    service.connect("c0")
    service.join("c0", "female", "female")
    service.connect("c1")  # connected, not waiting
    response = handler(http_event("/queues/female/female", "limit=1&offset=0"), Context())
    assert response["statusCode"] == 200
    assert body_of(response)["limit"] == 1 and body_of(response)["length"] == 1
    missing = handler(http_event("/rooms/nope"), Context())
    assert missing["statusCode"] == 404 and body_of(missing) == {"detail": "no such room"}


def test_dashboard_and_openapi_through_mangum(wired: None) -> None:
    page = handler(http_event("/"), Context())
    assert page["statusCode"] == 200 and page["headers"]["content-type"].startswith("text/html")
    html = page["body"] if not page.get("isBase64Encoded") else base64.b64decode(page["body"])
    assert "dashboard.js" in str(html)
    spec = body_of(handler(http_event("/openapi.json"), Context()))
    assert "/users/{user_id}" in spec["paths"]
