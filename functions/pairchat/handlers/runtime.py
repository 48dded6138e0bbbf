"""Per-container state, created once per cold start and reused by every invocation.

Tests do not go through here: they build a :class:`~pairchat.service.ChatService` with a
real test Redis and a fake or moto-backed notifier and hand it to the adapter functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..auth import Authenticator
from ..notifier import (
    Credentials,
    ManagementApiNotifier,
    Notifier,
    SignedHttpNotifier,
    default_credentials,
    management_client,
)
from ..service import ChatService, Telemetry
from ..settings import Settings
from ..store import ChatStore


def redis_client(settings: Settings) -> Any:
    """A redis-py client for the configured URL: a cluster client in cluster mode."""
    import redis

    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
        "health_check_interval": 30,
    }
    if settings.redis_cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(settings.redis_url, **common)  # type: ignore[no-untyped-call]
    return redis.Redis.from_url(settings.redis_url, **common)


def endpoint_from_event(event: dict[str, Any]) -> str:
    """The Management API endpoint of the API that sent this event."""
    ctx = event.get("requestContext") or {}
    return f"https://{ctx.get('domainName')}/{ctx.get('stage')}"


@dataclass
class Runtime:
    settings: Settings
    store: ChatStore
    telemetry: Telemetry | None = None
    _services: dict[str, ChatService] = field(default_factory=dict)
    #: Verifies $connect tokens; holds the key fetched once per cold start.
    authenticator: Authenticator | None = None

    @classmethod
    def from_settings(cls, settings: Settings, telemetry: Telemetry | None = None) -> Runtime:
        store = ChatStore(redis_client(settings), settings)
        return cls(settings, store, telemetry, authenticator=Authenticator.from_settings(settings))

    def service_for(self, event: dict[str, Any]) -> ChatService:
        """The service posting to this event's API (one Management client per endpoint)."""
        endpoint = self.settings.management_endpoint or endpoint_from_event(event)
        service = self._services.get(endpoint)
        if service is None:
            notifier = management_notifier(endpoint, self.settings)
            service = ChatService(self.store, notifier, self.settings, self.telemetry)
            self._services[endpoint] = service
        return service


def management_notifier(endpoint: str, s: Settings) -> Notifier:
    """The Management API notifier the settings ask for (see ``management_transport``)."""
    if s.management_transport == "boto3":
        client = management_client(
            endpoint,
            s.aws_region,
            s.management_timeout_s,
            s.management_max_attempts,
            s.management_max_pool_connections,
        )
        return ManagementApiNotifier(client)
    if s.aws_access_key_id and s.aws_secret_access_key:
        credentials = Credentials(s.aws_access_key_id, s.aws_secret_access_key, s.aws_session_token)
    else:
        credentials = default_credentials()
    return SignedHttpNotifier(
        endpoint,
        s.aws_region,
        credentials,
        s.management_timeout_s,
        s.management_max_attempts,
        s.management_max_pool_connections,
    )
