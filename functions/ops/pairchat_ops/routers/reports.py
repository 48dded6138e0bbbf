"""Abuse reports, newest first: from the durable report store (DynamoDB), or from each
pool's Redis stream when no store is configured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pairchat_ops.deps import PoolQuery, PoolsDep
from pairchat_ops.models import Reports
from pairchat_ops.readmodel import MAX_PAGE

router = APIRouter(tags=["reports"])

#: A report id (``<ms>-<16 hex>``, the store's sort key) or a stream entry id (``<ms>-<seq>``).
REPORT_ID = r"^\d{1,13}-(\d{1,20}|[0-9a-f]{16})$"


@router.get("/reports", response_model=Reports)
def reports(
    pools: PoolsDep,
    pool: PoolQuery = None,
    before: Annotated[str | None, Query(pattern=REPORT_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> Reports:
    return pools.reports(before, limit, pool)
