"""Fixtures for the API tests: Prosper's spec, and extra servers with their own
settings on the shared database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_support import Spec, spec_path

from callfleet.config import Config


@pytest.fixture(scope="session")
def spec() -> Spec:
    path = spec_path()
    if not path.exists():
        pytest.skip(f"Prosper spec not found at {path}")
    return Spec(json.loads(path.read_text()))


@pytest.fixture
def make_server(server: Any, database_url: str) -> Iterator[Callable[..., Any]]:
    """Start another server on the shared database with other settings."""
    server_class = type(server)
    started: list[Any] = []

    def start(**settings: Any) -> Any:
        config = Config(database_url=database_url, **settings)
        from callfleet.api.app import create_app

        running = server_class(create_app(config))
        running.__enter__()
        started.append(running)
        return running

    yield start
    for running in started:
        running.__exit__(None, None, None)
