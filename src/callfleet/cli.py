"""The ``callfleet`` command."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from callfleet.config import Config
from callfleet.logging import configure_logging

app = typer.Typer(
    help="callfleet: campaigns of AI voice-agent phone calls.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Overrides CALLFLEET_DATABASE_URL."),
]


def _config(database_url: str | None = None, **overrides: object) -> Config:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    config = Config(**values)  # type: ignore[arg-type]
    configure_logging(config.log_level, json=config.log_json)
    return config


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date."""
    from callfleet.db.engine import migrate as run_migrations

    config = _config(database_url)
    run_migrations(config.database_url)
    typer.echo("database is up to date")


async def _bootstrap(config: Config) -> str | None:
    from callfleet.db.engine import create_engine, create_sessionmaker, transaction
    from callfleet.organizations import service

    engine = create_engine(config.database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            _, secret = await service.bootstrap(
                session, config.default_organization, config.api_key
            )
        return secret
    finally:
        await engine.dispose()


def _prepare_database(config: Config) -> None:
    from callfleet.db.engine import migrate as run_migrations

    run_migrations(config.database_url)
    secret = asyncio.run(_bootstrap(config))
    if secret:
        typer.echo(
            f"Created organization '{config.default_organization}'. Its API key "
            f"(shown once, keep it):\n\n    {secret}\n"
        )


def _serve(config: Config, *, with_worker: bool) -> None:
    import uvicorn

    from callfleet.api.app import create_app

    services = []
    if with_worker:
        from callfleet.scheduling.worker import worker_service

        services.append(worker_service)
    application = create_app(config, services=services)
    typer.echo(f"callfleet listening on http://{config.host}:{config.port}")
    uvicorn.run(application, host=config.host, port=config.port, log_level="warning")


@app.command()
def serve(
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the API and one worker in one process (the embedded default).
    Migrates the database first and creates the default organization."""
    config = _config(database_url, host=host, port=port)
    _prepare_database(config)
    _serve(config, with_worker=True)


@app.command()
def api(
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the API only (scale-out: workers run as separate processes)."""
    config = _config(database_url, host=host, port=port)
    _prepare_database(config)
    _serve(config, with_worker=False)


@app.command()
def worker(database_url: DatabaseUrl = None) -> None:
    """Run a worker: dispatcher, calls, post-call analysis and webhooks."""
    from callfleet.scheduling.worker import run_worker

    config = _config(database_url)
    asyncio.run(run_worker(config))


@keys_app.command("create")
def keys_create(
    org: Annotated[
        str, typer.Option("--org", help="Organization name (created if new).")
    ],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    from callfleet.db.engine import create_engine, create_sessionmaker, transaction
    from callfleet.db.engine import migrate as run_migrations
    from callfleet.organizations import service

    config = _config(database_url)
    if not org.strip() or len(org) > 200:
        raise typer.BadParameter(
            "organization name must be 1 to 200 characters", param_hint="--org"
        )
    run_migrations(config.database_url)

    async def create() -> str:
        engine = create_engine(config.database_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                organization = await service.get_or_create_organization(
                    session, org.strip()
                )
                return (await service.create_key(session, organization, name)).secret
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(create()))


def main() -> None:
    app()
