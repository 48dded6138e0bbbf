"""One room: its members, age and TTL."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import Room

router = APIRouter(prefix="/rooms", tags=["rooms"])


@router.get("/{room_id}", response_model=Room, responses={404: {"description": "No such room"}})
def room(room_id: str, pools: PoolsDep, pool: PoolQuery = None) -> Room:
    result = pools.room(room_id, pool)
    if result is None:
        raise HTTPException(status_code=404, detail="no such room")
    return result
