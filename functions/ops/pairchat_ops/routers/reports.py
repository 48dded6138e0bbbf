"""Abuse reports from the ``reports`` stream, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import Reports
from pairchat_ops.readmodel import MAX_PAGE

router = APIRouter(tags=["reports"])

#: A stream entry id (``<ms>-<seq>``).
STREAM_ID = r"^\d+-\d+$"


@router.get("/reports", response_model=Reports)
def reports(
    pools: PoolsDep,
    pool: PoolQuery = None,
    before: Annotated[str | None, Query(pattern=STREAM_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Reports:
    return pools.reports(before, limit, pool)
