"""The ``callfleet`` command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

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
    try:
        config = Config(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(map(str, error["loc"]))
            typer.echo(f"invalid setting {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(config.log_level, json=config.log_json)
    return config


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date."""
    config = _config(database_url)
    _migrate_or_exit(config)
    typer.echo("database is up to date")


def _migrate_or_exit(config: Config) -> None:
    """Migrate, or say in one line why the database cannot be used."""
    from callfleet.db.engine import migrate as run_migrations

    try:
        run_migrations(config.database_url)
    except Exception as exc:  # any failure here means: this database is unusable
        reason = (
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        typer.echo(
            f"cannot use the database {_safe_url(config.database_url)}: {reason}",
            err=True,
        )
        raise typer.Exit(1) from exc


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL is shown as given
        return url


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
    _migrate_or_exit(config)
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
    _check_can_listen(config.host, config.port)
    application = create_app(config, services=services)
    typer.echo(f"callfleet listening on http://{config.host}:{config.port}")
    uvicorn.run(application, host=config.host, port=config.port, log_level="warning")


def _check_can_listen(host: str, port: int) -> None:
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        typer.echo(f"cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from exc


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
    from callfleet.organizations import service

    config = _config(database_url)
    if not org.strip() or len(org) > 200:
        raise typer.BadParameter(
            "organization name must be 1 to 200 characters", param_hint="--org"
        )
    _migrate_or_exit(config)

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


def _quiet_log_level() -> str:
    """The progress display speaks for the worker unless a level was asked for."""
    return os.environ.get("CALLFLEET_LOG_LEVEL", "WARNING")


@app.command()
def demo(
    database_url: DatabaseUrl = None,
    out: Annotated[
        Path, typer.Option(help="Where results.json and results.csv are written.")
    ] = Path("demo-results"),
    data: Annotated[
        str | None,
        typer.Option(
            help="MultiDoGO conversations (.tsv). Default: "
            "../shared/data/multidogo/insurance-dev.tsv, else a small shipped set."
        ),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            help="Real seconds each simulated second takes; 0 runs calls instantly, "
            "1 in real time."
        ),
    ] = 0.01,
    limit: Annotated[
        int | None, typer.Option(help="Use only the first N conversations.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    port: Annotated[
        int | None, typer.Option(help="Port of the embedded server.")
    ] = None,
    keep_serving: Annotated[
        bool, typer.Option(help="Keep the server running after the summary.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds.")
    ] = 600,
) -> None:
    """Run a ready-made insurance claim-status campaign end to end on a fresh
    database: simulated calls, analysis, signed webhooks, a summary and results."""
    import tempfile

    from callfleet.demo import campaign as demo_campaign
    from callfleet.embedded import free_port
    from callfleet.telephony.simulator.scenario import register_scenarios

    console = Console()
    try:
        path, real = demo_campaign.find_conversations(data)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from exc
    conversations = demo_campaign.load_conversations(path)[: limit or None]
    register_scenarios(conversations)
    console.print(
        f"Conversations: {len(conversations)} from {path}"
        + (
            ""
            if real
            else " (the shipped sample; the MultiDoGO data set was not found)"
        )
    )
    workdir = Path(tempfile.mkdtemp(prefix="callfleet-demo-"))
    config = _config(
        database_url or f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
        log_level=_quiet_log_level(),
        port=port or free_port(),
        webhook_allow_private=True,
        worker_poll_interval_s=0.05,
    )
    _run_to_end(
        "demo",
        config,
        console,
        campaign=lambda url: demo_campaign.campaign_settings(
            url, time_scale=time_scale, seed=seed
        ),
        targets=demo_campaign.build_targets(conversations, seed),
        out=out,
        timeout_s=timeout,
        keep_serving=keep_serving,
        with_receiver=True,
    )


@app.command()
def run(
    campaign: Annotated[
        Path, typer.Option("--campaign", help="Campaign settings, YAML or JSON.")
    ],
    targets: Annotated[
        Path,
        typer.Option(
            "--targets",
            help="Targets: CSV (phone_number, optional id, external_id, timezone; "
            "other columns go into input_data) or JSON in the API's target shape.",
        ),
    ],
    database_url: DatabaseUrl = None,
    out: Annotated[Path, typer.Option(help="Where results are written.")] = Path(
        "results"
    ),
    skip_invalid: Annotated[
        bool, typer.Option(help="Leave out bad rows instead of stopping.")
    ] = False,
    port: Annotated[
        int | None, typer.Option(help="Port of the embedded server.")
    ] = None,
    keep_serving: Annotated[
        bool, typer.Option(help="Keep the server running after the summary.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Give up after this many seconds.")
    ] = 3600,
) -> None:
    """Run your own campaign from files on the embedded server, to the end."""
    from callfleet.demo.files import InputFileError, read_campaign, read_targets
    from callfleet.embedded import free_port

    console = Console()
    config = _config(
        database_url, port=port or free_port(), log_level=_quiet_log_level()
    )
    try:
        body, settings = read_campaign(campaign)
        loaded = read_targets(targets, settings, config.default_region)
    except InputFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if loaded.problems:
        for problem in loaded.problems:
            console.print(f"[red]{problem}[/red]")
        if not skip_invalid:
            console.print(
                f"{len(loaded.problems)} bad row(s); nothing was launched. Fix them, "
                "or pass --skip-invalid to leave them out."
            )
            raise typer.Exit(2)
        console.print(f"Leaving out {len(loaded.problems)} bad row(s).")
    good = [t for i, t in enumerate(loaded.targets) if i not in loaded.bad_indexes]
    if not good:
        console.print("[red]no valid targets to call[/red]")
        raise typer.Exit(2)
    _run_to_end(
        "run",
        config,
        console,
        campaign=body,
        targets=good,
        out=out,
        timeout_s=timeout,
        keep_serving=keep_serving,
    )


def _run_to_end(what: str, config: Config, console: Console, **options: Any) -> None:
    """One campaign to the end on the embedded server; exits non-zero on failure."""
    from callfleet.demo.runner import CampaignRunError, run_campaign

    try:
        asyncio.run(run_campaign(config, console=console, **options))
    except CampaignRunError as exc:
        console.print(f"[red]{what} failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
