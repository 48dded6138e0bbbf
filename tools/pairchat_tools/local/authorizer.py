"""The ``$connect`` REQUEST authorizer, as API Gateway runs it.

When template.yaml guards ``$connect`` with a Lambda REQUEST authorizer (``AuthorizationType:
CUSTOM``), API Gateway, before it runs ``$connect``:

1. answers 401 without invoking anything when an identity source (``route.request.
   querystring.X`` / ``route.request.header.X``) is missing or empty;
2. invokes the authorizer with the upgrade request (``type: REQUEST``, ``methodArn``,
   headers, query string, ``requestContext``);
3. answers 401 when the function fails with the message ``Unauthorized``, 500 when it fails
   otherwise or returns no usable policy, 403 when the policy denies this ``$connect``
   (explicitly, or by not allowing it);
4. otherwise runs ``$connect`` and every later event of the connection with the policy's
   ``context`` (plus ``principalId`` and ``integrationLatency``) in
   ``requestContext.authorizer``.

:func:`decide` is steps 3 and 4; the gateway does the rest (``gateway.py``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pairchat_tools.local.template_wiring import AuthorizerSpec

UNAUTHORIZED = '{"message": "Unauthorized"}'
FORBIDDEN = '{"message": "Forbidden"}'
INTERNAL = '{"message": "Internal server error"}'


@dataclass(frozen=True)
class Decision:
    #: 200 when the connection may go on to ``$connect``, else the upgrade's status.
    status: int
    body: str = ""
    #: ``requestContext.authorizer`` of every event of the connection (when allowed).
    context: dict[str, Any] | None = None


def method_arn(region: str, api_id: str, stage: str) -> str:
    return f"arn:aws:execute-api:{region}:000000000000:{api_id}/{stage}/$connect"


def request_event(connect_event: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """The authorizer's input: the upgrade request as ``$connect`` will see it."""
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": connect_event.get("headers"),
        "multiValueHeaders": connect_event.get("multiValueHeaders"),
        "queryStringParameters": connect_event.get("queryStringParameters"),
        "multiValueQueryStringParameters": connect_event.get("multiValueQueryStringParameters"),
        "stageVariables": {},
        "requestContext": dict(connect_event.get("requestContext") or {}),
    }


def identity_missing(spec: AuthorizerSpec, connect_event: Mapping[str, Any]) -> bool:
    """An identity source the request lacks (or sends empty): API Gateway's 401."""
    query = connect_event.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (connect_event.get("headers") or {}).items()}
    for where, name in spec.identity_source:
        value = query.get(name) if where == "querystring" else headers.get(name.lower())
        if not value:
            return True
    return False


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(statement: Mapping[str, Any], arn: str) -> bool:
    actions = [str(a).lower() for a in _listed(statement.get("Action"))]
    if not {"execute-api:invoke", "execute-api:*", "*"} & set(actions):
        return False
    return any(
        isinstance(r, str) and fnmatch.fnmatchcase(arn, r)
        for r in _listed(statement.get("Resource"))
    )


def decide(result: Any, arn: str, latency_ms: int) -> Decision:
    """What API Gateway does with the authorizer's answer (see the module docstring)."""
    if not isinstance(result, dict):
        return Decision(500, INTERNAL)
    if "errorMessage" in result and "policyDocument" not in result:
        if result.get("errorMessage") == "Unauthorized":
            return Decision(401, UNAUTHORIZED)
        return Decision(500, INTERNAL)
    principal = result.get("principalId")
    document = result.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(principal, str) or not isinstance(statements, list | dict):
        return Decision(500, INTERNAL)
    effects = {
        str(s.get("Effect")) for s in _listed(statements) if isinstance(s, dict) and _covers(s, arn)
    }
    if "Deny" in effects or "Allow" not in effects:
        return Decision(403, FORBIDDEN)
    context = result.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        return Decision(500, INTERNAL)  # API Gateway refuses nested context values
    return Decision(
        200, context={**context, "principalId": principal, "integrationLatency": latency_ms}
    )
