"""The shadow pool: users several distinct reporters reported recently, matched only with
one another for a cooldown without being told (lua/report.lua). Operators list them per pool
and lift a flag by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import Lifted, ShadowPage
from pairchat_ops.readmodel import MAX_PAGE

router = APIRouter(prefix="/shadow", tags=["shadow"])

#: User ids as the server makes them (``a:<uuid>``, ``t:<digest>``, or a test's plain id).
UserId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w:.@|+=-]+$")]


@router.get("", response_model=ShadowPage)
def shadowed(
    pools: PoolsDep,
    pool: PoolQuery = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ShadowPage:
    """One pool's shadowed users (``?pool=``, default the first pool), the latest-flagged
    first, with the time left on each cooldown."""
    return pools.shadowed(pool, offset, limit)


@router.delete(
    "/{user_id}",
    response_model=Lifted,
    responses={404: {"description": "The user is not shadowed (in that pool)"}},
)
def lift(user_id: UserId, pools: PoolsDep, pool: PoolQuery = None) -> Lifted:
    """Lifts the user's shadow flag in ``?pool=``, or in every pool: it is matched normally
    again at once, and its recent reporters are forgotten (so the next single report does not
    flag it again)."""
    result = pools.lift(user_id, pool)
    if not result.pools:
        raise HTTPException(status_code=404, detail="not shadowed")
    return result
