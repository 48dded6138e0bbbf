"""Queue lengths, counts and match statistics; the per-minute series the dashboard charts.
Every pool's totals by default, one pool's with ``?pool=``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import PoolInfo, Series, Stats
from pairchat_ops.readmodel import MAX_SCAN_BUDGET, MAX_SERIES_MINUTES

router = APIRouter(tags=["stats"])


@router.get("/stats", response_model=Stats)
def stats(
    pools: PoolsDep,
    pool: PoolQuery = None,
    sample: Annotated[
        int | None,
        Query(
            ge=100,
            le=MAX_SCAN_BUDGET,
            description="keys of SCAN work (per node) for the room and session counts "
            "(default 5000); more gives a closer estimate on a large keyspace, at more cost",
        ),
    ] = None,
) -> Stats:
    return pools.stats(pool, sample)


@router.get("/stats/series", response_model=Series)
def series(
    pools: PoolsDep,
    pool: PoolQuery = None,
    minutes: Annotated[int, Query(ge=1, le=MAX_SERIES_MINUTES)] = 30,
) -> Series:
    return pools.series(pool, minutes)


@router.get("/pools", response_model=list[PoolInfo])
def pool_list(pools: PoolsDep) -> list[PoolInfo]:
    """The configured pools, each with its key prefix, slot and (in a cluster) node."""
    return pools.pools()
