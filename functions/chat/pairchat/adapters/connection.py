"""Who a connection is and which pool it is in: decided once, by the ``$connect`` authorizer.

API Gateway runs the REQUEST authorizer (:mod:`pairchat.handlers.authorizer`) before
``$connect`` and hands the ``context`` it returns to every later event of that connection as
``requestContext.authorizer``. That is how every handler learns the connection's user id and
pool without a Redis round trip, and why the pool can be chosen once, at connect, and never by
a frame: a client controls its frames, but not what API Gateway puts in ``requestContext``.

:func:`decide` is the authorizer's whole decision (origin, token, pool); the handler maps it
to an IAM policy. Nothing here logs a token or a query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pairchat.adapters.auth import Authenticator, check_origin
from pairchat.settings import Settings

#: The ``$connect`` query parameter that names the pool.
POOL_PARAMETER = "pool"
#: Metric codes of refused upgrades (the Errors metric's ``code`` dimension), by status.
REFUSAL_CODES = {401: "unauthorized", 403: "forbidden_origin", 503: "auth_unavailable"}


@dataclass(frozen=True)
class ConnectionContext:
    """What the authorizer decided about a connection."""

    user_id: str
    #: A configured pool, or '' when the client asked for one that is not configured
    #: (``$connect`` then refuses the upgrade with 400 and writes nothing).
    pool: str
    #: The user id is a verified token's subject (stable across connections and pools).
    authenticated: bool

    def as_context(self) -> dict[str, str]:
        """The authorizer's ``context``: string values, as API Gateway passes them on."""
        return {
            "userId": self.user_id,
            "pool": self.pool,
            "authenticated": "true" if self.authenticated else "false",
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ConnectionContext | None:
        """The context API Gateway attached to this event; None when no authorizer ran."""
        ctx = (event.get("requestContext") or {}).get("authorizer")
        if not isinstance(ctx, Mapping):
            return None
        user_id, pool, authenticated = ctx.get("userId"), ctx.get("pool"), ctx.get("authenticated")
        if not isinstance(user_id, str) or not user_id or not isinstance(pool, str):
            return None
        return cls(user_id, pool, authenticated is True or str(authenticated).lower() == "true")


def requested_pool(query: Mapping[str, Any] | None, settings: Settings) -> str:
    """The pool a ``$connect`` asks for: none means the first pool, an unknown one ''."""
    raw = (query or {}).get(POOL_PARAMETER)
    if raw is None or raw == "":
        return settings.default_pool
    return raw if isinstance(raw, str) and raw in settings.pools else ""


def decide(
    event: Mapping[str, Any], settings: Settings, authenticator: Authenticator
) -> ConnectionContext:
    """The authorizer's decision for a ``$connect`` request. Raises
    :class:`~pairchat.adapters.auth.Refused`: 403 origin, 401 token, 503 key source."""
    check_origin(event.get("headers"), settings.allowed_origins)
    query = event.get("queryStringParameters") or {}
    token = query.get("token")
    identity = authenticator.identify(token if isinstance(token, str) else None)
    return ConnectionContext(
        identity.user_id, requested_pool(query, settings), identity.authenticated
    )
