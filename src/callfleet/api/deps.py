"""Request dependencies: the database session and the caller's organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from callfleet.clock import Clock
from callfleet.config import Config
from callfleet.organizations import service as organizations


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_config(request: Request) -> Config:
    return request.app.state.config


def get_clock(request: Request) -> Clock:
    return request.app.state.clock


ConfigDep = Annotated[Config, Depends(get_config)]
ClockDep = Annotated[Clock, Depends(get_clock)]

_api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    organization_id: str
    api_key_id: str


async def require_api_key(
    session: SessionDep,
    clock: ClockDep,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    secret = api_key or (bearer.credentials if bearer else None)
    if not secret:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send 'X-Api-Key: <key>' or 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await organizations.authenticate(session, secret, clock.now())
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    structlog.contextvars.bind_contextvars(organization_id=key.organization_id)
    return Principal(organization_id=key.organization_id, api_key_id=key.id)


AuthDep = Annotated[Principal, Depends(require_api_key)]


def not_found(what: str, ident: object) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {ident} not found")
