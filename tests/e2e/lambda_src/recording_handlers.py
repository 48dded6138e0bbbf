"""Lambda handlers for the emulator's contract tests: they record what they were given.

The test template wires them like template.yaml wires the real ones; each invocation appends
its event and context to a Redis list, so a test can check exactly what a handler saw.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import redis

_redis: redis.Redis | None = None


def _record(event: dict[str, Any], context: Any) -> None:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    seen = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "aws_request_id": context.aws_request_id,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "env": {k: os.environ.get(k) for k in ("PAIRCHAT_TEST", "REDIS_CLUSTER")},
        "pid": os.getpid(),
    }
    _redis.rpush("events", json.dumps(seen))


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A REQUEST authorizer driven by ``?authz=``: allow (default), deny, unauthorized,
    boom (fails), nested (a context API Gateway refuses), elsewhere (allows another ARN)."""
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    _redis.rpush("authorizer", json.dumps(event))
    mode = (event.get("queryStringParameters") or {}).get("authz", "allow")
    if mode == "unauthorized":
        raise Exception("Unauthorized")
    if mode == "boom":
        raise RuntimeError("authorizer failed")
    arn = event["methodArn"]
    effect = "Deny" if mode == "deny" else "Allow"
    resource = arn.rsplit("/", 2)[0] + "/other/$connect" if mode == "elsewhere" else arn
    ctx: dict[str, Any] = {"who": "tester", "n": 7, "flag": True}
    if mode == "nested":
        ctx["bad"] = {"x": 1}
    return {
        "principalId": "tester",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": ctx,
    }


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, context)
    query = event.get("queryStringParameters") or {}
    if "deny" in query:
        return {"statusCode": 401, "body": "go away"}
    if "boom" in query:
        raise RuntimeError("connect handler failed")
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, context)
    return {"statusCode": 200}


def on_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _record(event, context)
    action = json.loads(event["body"]).get("action") if not event["isBase64Encoded"] else None
    if action == "boom":
        raise RuntimeError("message handler failed")
    if action == "crash":  # the container dies mid-invocation (only run with --workers > 0)
        os._exit(3)
    if action == "echo":
        # The stock client; only the endpoint points at the emulator.
        client = boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["MANAGEMENT_ENDPOINT"]
        )
        client.post_to_connection(
            ConnectionId=event["requestContext"]["connectionId"], Data=event["body"].encode()
        )
    if action == "ping":
        return {"statusCode": 200, "body": "pong"}
    return {"statusCode": 200}
