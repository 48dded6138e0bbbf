"""The composition root: the one place that builds clients (Redis, Management API) and wires
them into the domain. The chat handlers, the sweeper, the ops API and the CLI all build
their clients here, once per cold start (or per command).

Tests do not go through here: they build a :class:`~pairchat.domain.service.ChatService` with a
real test Redis and a fake or moto-backed notifier and hand it to the adapter functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pairchat.adapters.connection import ConnectionContext
from pairchat.adapters.management import (
    Credentials,
    ManagementApiNotifier,
    SignedHttpNotifier,
    default_credentials,
    management_client,
)
from pairchat.adapters.reports_table import DynamoDbReports
from pairchat.adapters.turn import turn_secret_fetcher
from pairchat.adapters.wordlists import text_filter_from_settings
from pairchat.domain.ports import Notifier, ReportSink, Telemetry
from pairchat.domain.rtc import IceConfig
from pairchat.domain.service import ChatService
from pairchat.domain.store import ChatStore
from pairchat.domain.sweeper import PoolSweeper, Sweeper
from pairchat.domain.textfilter import TextFilter
from pairchat.settings import Settings


def redis_options(settings: Settings) -> dict[str, Any]:
    """The redis-py client options. With ``rediss://`` the server's certificate must chain to
    a trusted CA *and* name the host we dialled: redis-py 5 skipped the host-name check by
    default (a certificate for any host passed), so it is asked for explicitly here on top of
    the >= 6 pin in requirements.txt (tests/integration/test_bootstrap.py)."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
        "health_check_interval": 30,
    }
    if settings.redis_url.startswith("rediss://"):
        options["ssl_cert_reqs"] = "required"
        options["ssl_check_hostname"] = True
    return options


def redis_client(settings: Settings) -> Any:
    """A redis-py client for the configured URL: a cluster client in cluster mode."""
    import redis

    common = redis_options(settings)
    if settings.redis_cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(settings.redis_url, **common)  # type: ignore[no-untyped-call]
    return redis.Redis.from_url(settings.redis_url, **common)


def endpoint_from_event(event: dict[str, Any]) -> str:
    """The Management API endpoint of the API that sent this event."""
    ctx = event.get("requestContext") or {}
    return f"https://{ctx.get('domainName')}/{ctx.get('stage')}"


TelemetryFactory = Callable[[str], Telemetry]


@dataclass
class Runtime:
    """What a chat function keeps for its container's life: one Redis client, one store per
    pool (each its own hash tag, so its own slot), and a service per pool and endpoint."""

    settings: Settings
    stores: dict[str, ChatStore]
    #: Telemetry per pool (the pool dimension, where cheap: adapters/telemetry.py).
    telemetry: TelemetryFactory | None = None
    _services: dict[tuple[str, str], ChatService] = field(default_factory=dict)
    #: The compiled word list, built once per cold start.
    text_filter: TextFilter | None = None
    #: The ICE servers ``matched`` offers; holds the TURN secret fetched once per cold start.
    ice: IceConfig | None = None
    #: The durable report store (None: reports stay in Redis, see ``ChatService.reports``).
    reports: ReportSink | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, telemetry: TelemetryFactory | None = None
    ) -> Runtime:
        client = redis_client(settings)
        stores = {pool: ChatStore(client, settings, pool) for pool in settings.pools}
        return cls(
            settings,
            stores,
            telemetry,
            text_filter=text_filter_from_settings(settings),
            ice=IceConfig(settings, turn_secret_fetcher(settings)),
            reports=report_store(settings),
        )

    def pool_of(self, event: dict[str, Any]) -> str:
        """The connection's pool, as the authorizer put it in ``requestContext.authorizer``
        (never from the frame). An event without one (no authorizer ran) and an unknown pool
        get the first pool; ``$connect`` refuses the unknown one before writing anything."""
        ctx = ConnectionContext.from_event(event)
        if ctx is not None and ctx.pool in self.stores:
            return ctx.pool
        return self.settings.default_pool

    def service_for(self, event: dict[str, Any]) -> ChatService:
        """The service of this event's pool, posting to this event's API (one Management
        client per endpoint)."""
        pool = self.pool_of(event)
        endpoint = self.settings.management_endpoint or endpoint_from_event(event)
        service = self._services.get((pool, endpoint))
        if service is None:
            notifier = self._notifiers().get(endpoint) or management_notifier(
                endpoint, self.settings
            )
            service = pool_service(
                self.stores,
                pool,
                notifier,
                self.settings,
                self.telemetry and self.telemetry(pool),
                self.text_filter,
                self.ice,
                self.reports,
            )
            self._services[(pool, endpoint)] = service
        return service

    def _notifiers(self) -> dict[str, Notifier]:
        """The notifiers already built, by endpoint: every pool's service shares one."""
        return {endpoint: s.notifier for (_, endpoint), s in self._services.items()}


def pool_service(
    stores: dict[str, ChatStore],
    pool: str,
    notifier: Notifier,
    settings: Settings,
    telemetry: Telemetry | None = None,
    text_filter: TextFilter | None = None,
    ice: IceConfig | None = None,
    reports: ReportSink | None = None,
) -> ChatService:
    """The service of one pool; a token user's blocks are mirrored into the other pools."""
    mirrors = [store for name, store in stores.items() if name != pool]
    return ChatService(
        stores[pool],
        notifier,
        settings,
        telemetry,
        text_filter=text_filter,
        ice=ice,
        block_mirrors=mirrors,
        reports=reports,
    )


def aws_credentials(s: Settings) -> Credentials | Callable[[], Credentials]:
    """The function role's credentials from the environment (Lambda sets them), else
    botocore's chain, looked up on first use (so its import stays off the cold start)."""
    if s.aws_access_key_id and s.aws_secret_access_key:
        return Credentials(s.aws_access_key_id, s.aws_secret_access_key, s.aws_session_token)
    return default_credentials


def report_store(s: Settings) -> DynamoDbReports | None:
    """The durable report store ``REPORTS_TABLE`` names (at ``DYNAMODB_ENDPOINT`` when set:
    ``pairchat dev``'s own); None without a table."""
    if not s.reports_table:
        return None
    return DynamoDbReports(
        s.reports_table,
        s.aws_region,
        aws_credentials(s),
        endpoint=s.dynamodb_endpoint,
        timeout_s=s.management_timeout_s,
        max_attempts=s.management_max_attempts,
        retention_days=s.reports_retention_days,
        max_pool_connections=s.management_max_pool_connections,
    )


def management_notifier(
    endpoint: str, s: Settings, transport: Literal["http", "boto3"] | None = None
) -> Notifier:
    """The Management API notifier the settings ask for (see ``management_transport``)."""
    if (transport or s.management_transport) == "boto3":
        client = management_client(
            endpoint,
            s.aws_region,
            s.management_timeout_s,
            s.management_max_attempts,
            s.management_max_pool_connections,
        )
        return ManagementApiNotifier(client)
    credentials = aws_credentials(s)
    if not isinstance(credentials, Credentials):
        credentials = credentials()
    return SignedHttpNotifier(
        endpoint,
        s.aws_region,
        credentials,
        s.management_timeout_s,
        s.management_max_attempts,
        s.management_max_pool_connections,
    )


class Unannounced:
    """The sweeper's notifier when no Management API endpoint is configured: nobody is told
    (the survivor's next heartbeat answers ``idle``)."""

    def post(self, connection_id: str, frame: dict[str, Any]) -> bool:
        return True


def sweeper_from_settings(
    s: Settings,
    telemetry: Telemetry | None = None,
    transport: Literal["http", "boto3"] | None = None,
) -> PoolSweeper:
    """The sweeper the scheduled Lambda and ``pairchat sweep`` run, over every pool: the
    signed HTTP notifier (no boto3 on the Lambda cold start) when an endpoint is configured."""
    client = redis_client(s)
    notifier: Notifier = Unannounced()
    if s.management_endpoint:
        notifier = management_notifier(s.management_endpoint, s, transport)
    announce = bool(s.management_endpoint)
    reports = report_store(s)
    return PoolSweeper(
        {
            pool: Sweeper(
                ChatService(ChatStore(client, s, pool), notifier, s, telemetry, reports=reports),
                announce,
            )
            for pool in s.pools
        }
    )
