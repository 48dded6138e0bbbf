"""A queue's waiters, oldest first, a page at a time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pairchat_ops.deps import ReadModelDep
from pairchat_ops.models import QueueLength, QueuePage
from pairchat_ops.readmodel import MAX_PAGE

router = APIRouter(prefix="/queues", tags=["queues"])

Gender = Literal["male", "female"]
Preference = Literal["male", "female", "any"]


@router.get("", response_model=list[QueueLength])
def queues(model: ReadModelDep) -> list[QueueLength]:
    return model.queue_lengths()


@router.get("/{gender}/{preference}", response_model=QueuePage)
def queue(
    gender: Gender,
    preference: Preference,
    model: ReadModelDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> QueuePage:
    return model.queue(gender, preference, offset, limit)
