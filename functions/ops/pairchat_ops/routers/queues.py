"""A queue's waiters, oldest first, a page at a time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import QueueLength, QueuePage
from pairchat_ops.readmodel import MAX_PAGE

router = APIRouter(prefix="/queues", tags=["queues"])

Gender = Literal["male", "female"]
Preference = Literal["male", "female", "any"]


@router.get("", response_model=list[QueueLength])
def queues(pools: PoolsDep, pool: PoolQuery = None) -> list[QueueLength]:
    """Every queue's length, summed over the pools unless ``?pool=`` names one."""
    return pools.queue_lengths(pool)


@router.get("/{gender}/{preference}", response_model=QueuePage)
def queue(
    gender: Gender,
    preference: Preference,
    pools: PoolsDep,
    pool: PoolQuery = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> QueuePage:
    """One pool's queue (``?pool=``, default the first pool): a line is one pool's."""
    return pools.model(pool).queue(gender, preference, offset, limit)
