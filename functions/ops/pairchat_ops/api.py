"""The ops API: a FastAPI app, served on Lambda through Mangum. It reads (Redis, the report
store); its one write is lifting a user's shadow flag (``DELETE /shadow/{user_id}``).

Works at the root (the ops HTTP API) and mounted under a prefix (``pairchat dev`` mounts it
at ``/ops``): the dashboard page and the OpenAPI docs use relative URLs and ``root_path``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError

from pairchat.adapters.reports_table import ReportStoreUnavailable
from pairchat_ops.pools import UnknownPool
from pairchat_ops.routers import health, queues, reports, rooms, shadow, stats, users

STATIC = Path(__file__).resolve().parent / "static"


async def _redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=503, content={"detail": f"redis unavailable: {type(exc).__name__}"}
    )


async def _report_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": f"report store unavailable: {exc}"})


async def _unknown_pool(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": f"unknown pool: {exc}"})


def create_app() -> FastAPI:
    app = FastAPI(
        title="pairchat ops",
        version="1",
        summary="pairchat's queues, rooms, users, match statistics, reports and shadow pool.",
    )
    for module in (health, stats, queues, rooms, users, reports, shadow):
        app.include_router(module.router)
    app.add_exception_handler(RedisError, _redis_unavailable)
    app.add_exception_handler(UnknownPool, _unknown_pool)
    app.add_exception_handler(ReportStoreUnavailable, _report_store_unavailable)

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        """The live dashboard (static; it polls /stats and /stats/series)."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it at the root whatever the page links (no 404 in their console)."""
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


app = create_app()
