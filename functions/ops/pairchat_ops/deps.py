"""FastAPI dependencies of the ops API, as ``Annotated`` aliases tests can override.

Override :func:`get_settings` and :func:`get_redis` (``app.dependency_overrides``) to point
the app at a test Redis, and :func:`get_report_store` at a test report store; everything else
is derived from those.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Query

from pairchat.adapters.reports_table import DynamoDbReports
from pairchat.bootstrap import redis_client, report_store
from pairchat.settings import Settings
from pairchat_ops.pools import PoolsReadModel
from pairchat_ops.readmodel import ReadModel


@cache
def get_settings() -> Settings:
    """Read once per cold start."""
    return Settings.from_env()


SettingsDep = Annotated[Settings, Depends(get_settings)]


@cache
def _client_for(settings: Settings) -> Any:
    return redis_client(settings)


def get_redis(settings: SettingsDep) -> Any:
    """One client (``redis.Redis`` or ``RedisCluster``) per process and settings."""
    return _client_for(settings)


RedisDep = Annotated[Any, Depends(get_redis)]


@cache
def _report_store_for(settings: Settings) -> DynamoDbReports | None:
    return report_store(settings)


def get_report_store(settings: SettingsDep) -> DynamoDbReports | None:
    """The durable report store (``REPORTS_TABLE``), one client per process and settings;
    None without a table (reports are then read from Redis)."""
    return _report_store_for(settings)


ReportStoreDep = Annotated[DynamoDbReports | None, Depends(get_report_store)]


def get_read_model(settings: SettingsDep, client: RedisDep, reports: ReportStoreDep) -> ReadModel:
    return ReadModel(client, settings, reports=reports)


ReadModelDep = Annotated[ReadModel, Depends(get_read_model)]


def get_pools(settings: SettingsDep, client: RedisDep, reports: ReportStoreDep) -> PoolsReadModel:
    return PoolsReadModel(client, settings, reports=reports)


PoolsDep = Annotated[PoolsReadModel, Depends(get_pools)]

#: ``?pool=``: one pool's numbers; absent, every pool's (totals), or the first pool where a
#: view is about one pool's keys (a queue page). An unknown pool answers 404.
PoolQuery = Annotated[
    str | None,
    Query(pattern=r"^[a-z0-9-]{1,32}$", description="a configured pool; default: every pool"),
]
