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

import hashlib
import ipaddress
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
    #: The client's address as an opaque key (:func:`source_key`); '' when unknown. Limits
    #: "per person" count by it too, since a new socket is a new anonymous user.
    source: str = ""

    def as_context(self) -> dict[str, str]:
        """The authorizer's ``context``: string values, as API Gateway passes them on."""
        return {
            "userId": self.user_id,
            "pool": self.pool,
            "authenticated": "true" if self.authenticated else "false",
            "source": self.source,
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
        source = ctx.get("source")
        return cls(
            user_id,
            pool,
            authenticated is True or str(authenticated).lower() == "true",
            source if isinstance(source, str) else "",
        )


def source_key(address: object) -> str:
    """An opaque, stable key for a client address, so Redis and logs never hold the address.
    IPv6 counts by its /64: one home or phone gets a whole /64 and may rotate through it, so
    a per-address limit on full IPv6 addresses would not hold. '' for no or a bad address."""
    if not isinstance(address, str):
        return ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        packed = ipaddress.ip_network(f"{ip}/64", strict=False).network_address.packed
    else:
        packed = ip.packed
    return hashlib.blake2b(packed, digest_size=9, person=b"pairchat-src").hexdigest()


def source_of(event: Mapping[str, Any]) -> str:
    """The key of the address API Gateway saw (``requestContext.identity.sourceIp``)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return source_key(identity.get("sourceIp") if isinstance(identity, Mapping) else None)


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
        identity.user_id,
        requested_pool(query, settings),
        identity.authenticated,
        source_of(event),
    )
