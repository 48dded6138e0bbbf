"""One user: session, room, queue entry, recent partners."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{user_id}", response_model=User, responses={404: {"description": "Unknown user"}})
def user(user_id: str, pools: PoolsDep, pool: PoolQuery = None) -> User:
    result = pools.user(user_id, pool)
    if result is None:
        raise HTTPException(status_code=404, detail="unknown user")
    return result
