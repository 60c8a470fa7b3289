"""The embedded server (API and one worker in this process), for ``demo`` and
``run``: migrated database, an API key, uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType

import uvicorn

from callfleet.config import Config
from callfleet.db.engine import (
    create_engine,
    create_sessionmaker,
    migrate_async,
    transaction,
)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def ensure_api_key(config: Config) -> str:
    """An API key of the default organization: the configured one, else a new one."""
    from callfleet.organizations import service

    engine = create_engine(config.database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            organization = await service.get_or_create_organization(
                session, config.default_organization
            )
            if config.api_key:
                await service.bootstrap(session, organization.name, config.api_key)
                return config.api_key
            return (await service.create_key(session, organization, "embedded")).secret
    finally:
        await engine.dispose()


class EmbeddedServer:
    """``async with EmbeddedServer(config) as server:`` serves ``server.url``."""

    def __init__(self, config: Config, *, with_worker: bool = True) -> None:
        self.config = config
        self.with_worker = with_worker
        self.api_key = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"

    async def __aenter__(self) -> EmbeddedServer:
        from callfleet.api.app import create_app

        await migrate_async(self.config.database_url)
        self.api_key = await ensure_api_key(self.config)
        services = []
        if self.with_worker:
            from callfleet.scheduling.worker import worker_service

            services.append(worker_service)
        app = create_app(self.config, services=services)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self.config.host,
                port=self.config.port,
                log_level="warning",
                lifespan="on",
            )
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the embedded server stopped while starting")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
