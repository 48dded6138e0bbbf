"""One room: its members, age and TTL."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from pairchat_ops.deps import ReadModelDep
from pairchat_ops.models import Room

router = APIRouter(prefix="/rooms", tags=["rooms"])


@router.get("/{room_id}", response_model=Room, responses={404: {"description": "No such room"}})
def room(room_id: str, model: ReadModelDep) -> Room:
    result = model.room(room_id)
    if result is None:
        raise HTTPException(status_code=404, detail="no such room")
    return result
