"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callfleet import __version__, phones
from callfleet.api.errors import (
    BodySizeLimit,
    RejectNul,
    RejectUnpairedSurrogates,
    install_error_handlers,
)
from callfleet.calls.endpoints import live_router as live_calls_router
from callfleet.calls.endpoints import router as call_logs_router
from callfleet.campaigns.endpoints import router as campaigns_router
from callfleet.clock import Clock, SystemClock
from callfleet.config import Config
from callfleet.db.engine import create_engine, create_sessionmaker
from callfleet.notifications.endpoints import install as install_notifications
from callfleet.organizations.endpoints import router as api_keys_router
from callfleet.suppressions.endpoints import router as suppressions_router
from callfleet.targets.endpoints import campaign_router as campaign_targets_router
from callfleet.targets.endpoints import router as targets_router
from callfleet.targets.schemas import TargetInput

log = structlog.get_logger()
status_router = APIRouter(tags=["Status"])

# Background services (the worker) register here: each takes the app and
# returns an async context manager that runs for the app's lifetime.
Service = Callable[[FastAPI], Any]


@status_router.get("/api/v1/health", summary="Health Check")
async def health_check(request: Request) -> dict[str, Any]:
    """Health check endpoint for monitoring service status."""
    database = "ok"
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # the point is to report any failure
        log.warning("health.database_unavailable", error=str(exc))
        database = "unavailable"
    return {
        "status": "ok" if database == "ok" else "degraded",
        "database": database,
        "version": __version__,
    }


def create_app(
    config: Config | None = None,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    services: list[Service] | None = None,
) -> FastAPI:
    config = config or Config()
    owns_engine = engine is None
    engine = engine or create_engine(config.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = []
        try:
            for service in services or []:
                context = service(app)
                await context.__aenter__()
                started.append(context)
            yield
        finally:
            for context in reversed(started):
                await context.__aexit__(None, None, None)
            phones.shutdown_pool()
            if owns_engine:
                await engine.dispose()

    app = FastAPI(
        title="callfleet",
        version=__version__,
        summary="Campaigns of AI voice-agent phone calls; a superset of the "
        "Prosper Voice API.",
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.clock = clock or SystemClock()
    install_error_handlers(app)
    for router in (
        status_router,
        campaign_targets_router,
        campaigns_router,
        targets_router,
        call_logs_router,
        live_calls_router,
        api_keys_router,
        suppressions_router,
    ):
        app.include_router(router)
    install_notifications(app)
    app.add_middleware(RejectUnpairedSurrogates)
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(RejectNul)
    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """Add the target input schema that the targets route validates item by
    item (so that one bad target does not hide the others' errors)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        target_schema = TargetInput.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in target_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["TargetInput"] = target_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
