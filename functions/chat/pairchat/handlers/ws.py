"""The WebSocket routes' Lambda handlers.

template.yaml wires ``$connect`` (after the authorizer, :mod:`pairchat.handlers.authorizer`)
to :func:`on_connect`, ``$disconnect`` to :func:`on_disconnect`, and every message route
(``join``, ``send``, ``signal``, ``next``, ``leave``, ``heartbeat``, ``report``, ``block``,
``typing``, ``$default``) to :func:`on_message` (one function for every message route keeps one
warm pool instead of ten). The ``handle_*`` functions are the adapters proper: they take the
service, so tests call them with their own. The entry points pick the service of the
connection's pool from ``requestContext.authorizer`` (:meth:`Runtime.service_for`): what the
authorizer decided at ``$connect``, never a frame's field.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext
from redis.exceptions import RedisError

from pairchat.adapters.connection import ConnectionContext
from pairchat.adapters.telemetry import PowertoolsTelemetry, publish_metrics
from pairchat.bootstrap import Runtime
from pairchat.domain.errors import PairchatError, RateLimited, SessionExpired, Unavailable
from pairchat.domain.ports import DeliveryFailed
from pairchat.domain.protocol import parse_with_ref
from pairchat.domain.service import UNKNOWN, Caller, ChatService
from pairchat.settings import Settings

logger = Logger()
metrics = Metrics()

Response = dict[str, Any]
OK: Response = {"statusCode": 200}


def _connection_id(event: dict[str, Any]) -> str:
    return str(event["requestContext"]["connectionId"])


def _caller(event: dict[str, Any]) -> Caller:
    """Who sends this event, as the ``$connect`` authorizer decided (API Gateway attaches
    its context to every event of the connection)."""
    ctx = ConnectionContext.from_event(event)
    if ctx is None:
        return UNKNOWN
    return Caller(ctx.user_id, ctx.authenticated, ctx.source)


# -- adapters -------------------------------------------------------------------------------


def handle_connect(event: dict[str, Any], service: ChatService) -> Response:
    """Opens the session of the identity and pool the ``$connect`` authorizer decided
    (``requestContext.authorizer``; the authorizer already refused bad tokens and origins).
    A non-2xx refuses the upgrade, writing nothing: 400 unknown pool, 429 too many connects
    from the client's address, 503 Redis, 500 when
    no authorizer ran (a deployment whose ``$connect`` is not guarded must not open
    sessions for whoever asks)."""
    connection_id = _connection_id(event)
    settings = service.settings
    ctx = ConnectionContext.from_event(event)
    if ctx is None:
        logger.error("no authorizer context on $connect: is the route's authorizer configured?")
        return {"statusCode": 500}
    if ctx.pool not in settings.pools:
        logger.info("connect refused", extra={"status": 400, "reason": "unknown pool"})
        service.telemetry.count("Error_unknown_pool")
        return {"statusCode": 400}
    if ctx.pool != service.store.pool:
        logger.error("connect routed to another pool's service", extra={"pool": ctx.pool})
        return {"statusCode": 500}
    try:
        user_id = service.connect(connection_id, ctx.user_id, ctx.authenticated, ctx.source)
    except RateLimited:
        # Too many connects from this address in the window: the upgrade is refused with
        # 429, as API Gateway's own throttle answers, and nothing was written.
        logger.info("connect refused", extra={"status": 429, "reason": "rate_limited"})
        service.telemetry.count("Error_rate_limited")
        return {"statusCode": 429}
    except RedisError:
        logger.exception("redis unavailable on connect")
        return {"statusCode": 503}
    except DeliveryFailed:
        # Only a partner_back could fail here; the session is open.
        service.telemetry.count("ManagementApiErrors")
        logger.warning("partner_back undeliverable")
        return OK
    logger.info(
        "connected",
        extra={"user_id": user_id, "authenticated": ctx.authenticated, "pool": ctx.pool},
    )
    return OK


def handle_disconnect(event: dict[str, Any], service: ChatService) -> Response:
    try:
        service.disconnect(_connection_id(event), _caller(event))
    except RedisError:
        # Best effort: the session TTL and the sweeper remove what is left.
        logger.exception("redis unavailable on disconnect")
        return {"statusCode": 503}
    except DeliveryFailed:
        service.telemetry.count("ManagementApiErrors")
        logger.warning("could not tell the partner (Management API failing)")
        return {"statusCode": 502}
    return OK


def handle_message(event: dict[str, Any], service: ChatService) -> Response:
    """Every message route: parse the frame, run the command, answer errors with a frame."""
    connection_id = _connection_id(event)
    settings = service.settings
    ref: str | None = None
    try:
        command, ref = parse_with_ref(
            event.get("body"), settings.max_text_chars, settings.max_report_chars
        )
        service.handle(connection_id, command, _caller(event))
    except PairchatError as error:
        if error.ref is None:
            error.ref = ref
        return _refuse(service, connection_id, error)
    except RedisError:
        logger.exception("redis unavailable")
        return _refuse(service, connection_id, Unavailable())
    except DeliveryFailed:
        # A frame was lost after bounded retries; Redis state is whole (scripts are atomic
        # and a matched pair one side was not told of is undone by the service).
        service.telemetry.count("ManagementApiErrors")
        logger.warning("a frame could not be delivered (Management API failing)")
        return {"statusCode": 502}
    except Exception:
        # A bug, not bad input: log it, tell the client, and keep the exception in here.
        logger.exception("unexpected error")
        _refuse(service, connection_id, PairchatError())
        return {"statusCode": 500}
    return OK


def _refuse(service: ChatService, connection_id: str, error: PairchatError) -> Response:
    logger.info("refused", extra={"code": error.code})
    try:
        service.reject(connection_id, error)
    except (PairchatError, RedisError, DeliveryFailed):
        logger.exception("could not deliver the error frame")
    if isinstance(error, SessionExpired):
        return {"statusCode": 410}
    return {"statusCode": error.status}


# -- Lambda entry points --------------------------------------------------------------------


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """Created on the first invocation of a container and kept for the next ones."""
    global _runtime
    if _runtime is None:
        settings = Settings.from_env()
        pooled = len(settings.pools) > 1

        def telemetry(pool: str) -> PowertoolsTelemetry:
            return PowertoolsTelemetry(metrics, pool if pooled else None)

        _runtime = Runtime.from_settings(settings, telemetry)
    return _runtime


_CORRELATION = "requestContext.connectionId"


@publish_metrics(metrics)
@logger.inject_lambda_context(correlation_id_path=_CORRELATION)
def on_connect(event: dict[str, Any], context: LambdaContext) -> Response:
    return handle_connect(event, runtime().service_for(event))


@publish_metrics(metrics)
@logger.inject_lambda_context(correlation_id_path=_CORRELATION)
def on_disconnect(event: dict[str, Any], context: LambdaContext) -> Response:
    return handle_disconnect(event, runtime().service_for(event))


@publish_metrics(metrics)
@logger.inject_lambda_context(correlation_id_path=_CORRELATION)
def on_message(event: dict[str, Any], context: LambdaContext) -> Response:
    return handle_message(event, runtime().service_for(event))
