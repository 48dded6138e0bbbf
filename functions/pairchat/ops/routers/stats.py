"""Queue lengths, counts and match statistics; the per-minute series the dashboard charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..deps import ReadModelDep
from ..models import Series, Stats
from ..readmodel import MAX_SERIES_MINUTES

router = APIRouter(tags=["stats"])


@router.get("/stats", response_model=Stats)
def stats(model: ReadModelDep) -> Stats:
    return model.stats()


@router.get("/stats/series", response_model=Series)
def series(
    model: ReadModelDep,
    minutes: Annotated[int, Query(ge=1, le=MAX_SERIES_MINUTES)] = 30,
) -> Series:
    return model.series(minutes)
