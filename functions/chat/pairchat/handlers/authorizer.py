"""The ``$connect`` REQUEST authorizer (``pairchat.handlers.authorizer.handler``).

Runs before ``$connect``, once per connection. It decides who the connection is (a verified
token's subject, or a new anonymous id) and which pool it joins, and returns them as the
policy's ``context``: API Gateway passes that context to ``$connect`` and to every later
event of the connection in ``requestContext.authorizer``, so the handlers never ask Redis
who a connection is or which pool's slot to call (docs/architecture.md, "Pools").

What the client gets when the upgrade is refused is API Gateway's doing:

* a foreign browser origin: a Deny policy, and API Gateway answers 403;
* a missing or bad token: the function fails with ``Unauthorized``, API Gateway answers 401;
* the key source (SSM, Secrets Manager, JWKS) failing: any other failure, API Gateway 500;
* an unknown pool: Allow with an empty ``pool``, and ``$connect`` answers 400 (a bad
  parameter is the client's mistake, not a question of who it is; nothing is written).

It touches no Redis. Tokens, query strings and subjects are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from pairchat.adapters.auth import Authenticator, Refused
from pairchat.adapters.connection import REFUSAL_CODES, ConnectionContext, decide
from pairchat.adapters.telemetry import PowertoolsTelemetry, publish_metrics
from pairchat.domain.ports import NullTelemetry, Telemetry
from pairchat.settings import Settings

logger = Logger()
metrics = Metrics()


class Unauthorized(Exception):
    """Raised with exactly this message, it makes API Gateway answer 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def policy(effect: str, method_arn: str, ctx: ConnectionContext | None) -> dict[str, Any]:
    """An IAM policy for this ``$connect`` only (the method ARN), with the context."""
    out: dict[str, Any] = {
        # API Gateway requires one; it is not logged (the access log format omits it).
        "principalId": ctx.user_id if ctx else "refused",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
    }
    if ctx is not None:
        out["context"] = ctx.as_context()
    return out


def handle_authorize(
    event: Mapping[str, Any],
    settings: Settings,
    authenticator: Authenticator,
    telemetry: Telemetry | None = None,
) -> dict[str, Any]:
    """The authorizer's answer: an Allow policy with the context, a Deny policy, or an
    exception (``Unauthorized`` for 401, anything else for 500)."""
    telemetry = telemetry or NullTelemetry()
    method_arn = str(event.get("methodArn") or "")
    try:
        ctx = decide(event, settings, authenticator)
    except Refused as refusal:
        logger.info("connect refused", extra={"status": refusal.status, "reason": refusal.reason})
        telemetry.count(f"Error_{REFUSAL_CODES.get(refusal.status, 'connect_refused')}")
        if refusal.status == 403:
            return policy("Deny", method_arn, None)
        if refusal.status == 401:
            raise Unauthorized() from None
        raise RuntimeError(refusal.reason) from None
    return policy("Allow", method_arn, ctx)


# -- Lambda entry point ---------------------------------------------------------------------

_state: tuple[Settings, Authenticator] | None = None


def state() -> tuple[Settings, Authenticator]:
    """Built on the first invocation of a container (the key is fetched once)."""
    global _state
    if _state is None:
        settings = Settings.from_env()
        _state = (settings, Authenticator.from_settings(settings))
    return _state


@publish_metrics(metrics)
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, authenticator = state()
    return handle_authorize(event, settings, authenticator, PowertoolsTelemetry(metrics))
