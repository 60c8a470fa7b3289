"""HTTP routes for API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from callfleet.api.deps import AuthDep, SessionDep, not_found
from callfleet.db.models import ApiKey
from callfleet.organizations import repository, service
from callfleet.organizations.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyView,
)

router = APIRouter(prefix="/api/v1/api-keys", tags=["API Keys"])


def _view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        organization_id=key.organization_id,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
async def create_api_key(
    body: ApiKeyCreate, auth: AuthDep, session: SessionDep
) -> ApiKeyCreated:
    """A new key for the caller's organization; the secret is shown only here."""
    organization = await repository.get_organization(session, auth.organization_id)
    assert organization is not None
    new = await service.create_key(session, organization, body.name)
    return ApiKeyCreated(**_view(new.api_key).model_dump(), key=new.secret)


@router.get("", response_model=ApiKeyList)
async def list_api_keys(auth: AuthDep, session: SessionDep) -> ApiKeyList:
    """The organization's keys, without their secrets."""
    keys = await repository.list_keys(session, auth.organization_id)
    return ApiKeyList(api_keys=[_view(key) for key in keys])


@router.delete("/{api_key_id}", summary="Delete Api Key")
async def delete_api_key(
    api_key_id: Annotated[str, Path(max_length=200)], auth: AuthDep, session: SessionDep
) -> dict[str, str]:
    """Revoke a key at once."""
    if not await repository.delete_key(session, auth.organization_id, api_key_id):
        raise not_found("API key", api_key_id)
    return {"message": "API key deleted", "id": api_key_id}
