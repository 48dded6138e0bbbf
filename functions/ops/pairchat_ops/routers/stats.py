"""Queue lengths, counts and match statistics; the per-minute series the dashboard charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pairchat_ops.deps import ReadModelDep
from pairchat_ops.models import Series, Stats
from pairchat_ops.readmodel import MAX_SCAN_BUDGET, MAX_SERIES_MINUTES

router = APIRouter(tags=["stats"])


@router.get("/stats", response_model=Stats)
def stats(
    model: ReadModelDep,
    sample: Annotated[
        int | None,
        Query(
            ge=100,
            le=MAX_SCAN_BUDGET,
            description="keys of SCAN work for the room and session counts (default 5000); "
            "more gives a closer estimate on a large keyspace, at more cost",
        ),
    ] = None,
) -> Stats:
    return model.stats(sample)


@router.get("/stats/series", response_model=Series)
def series(
    model: ReadModelDep,
    minutes: Annotated[int, Query(ge=1, le=MAX_SERIES_MINUTES)] = 30,
) -> Series:
    return model.series(minutes)
