"""Is Redis reachable, are the scripts cached, how long is a round trip."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from pairchat_ops.deps import PoolsDep
from pairchat_ops.models import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "Redis is unreachable"}},
)
def health(pools: PoolsDep, response: Response) -> Health:
    result = pools.health()
    if result.status != "ok":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return result
