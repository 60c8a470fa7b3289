"""Error handling: every failure answers ``{"detail": ...}``, never a bare 500."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger()


class DomainError(Exception):
    """A rule of the domain was broken; maps to an HTTP status."""

    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    """Input that passed the schema but breaks a rule; detail is a list of
    ``{loc, msg, type}`` like FastAPI's own 422 errors."""

    status_code = 422


class TooLarge(DomainError):
    status_code = 413


def _json_safe(value: Any) -> Any:
    """JSON has no NaN or Infinity, but Python's parser reads them (and 1e999),
    and 422 errors echo the input back."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {key: _json_safe(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(inner) for inner in value]
    return value


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(
        _request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        detail = _json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # Text PostgreSQL cannot store (a NUL character) is the client's
        # mistake; anything else the database refuses is ours.
        if _sqlstate(exc) in _UNSTORABLE_TEXT:
            detail = [
                {
                    "loc": ["body"],
                    "msg": "text may not contain NUL characters",
                    "type": "value_error",
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        log.exception("api.database_error", path=request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled_error", path=request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)


# character_not_in_repertoire, untranslatable_character
_UNSTORABLE_TEXT = {"22021", "22P05"}


def _sqlstate(exc: DBAPIError) -> str | None:
    original = exc.orig
    return getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)


class RejectNul:
    """Refuses NUL characters in the path or query string with 422: no id or
    filter holds one, and PostgreSQL cannot even compare against one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
                response = JSONResponse(
                    {
                        "detail": [
                            {
                                "loc": ["path" if "\x00" in scope["path"] else "query"],
                                "msg": "NUL characters are not allowed in URLs",
                                "type": "value_error",
                            }
                        ]
                    },
                    status_code=422,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _surrogate_path(value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where a string holds half of a UTF-16 surrogate pair (JSON can spell one,
    but it is not text: it cannot be stored or sent back)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _surrogate_path(key, path) or _surrogate_path(inner, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _surrogate_path(inner, (*path, index))
            if found is not None:
                return found
    return None


class RejectUnpairedSurrogates:
    """Refuses JSON bodies whose strings hold an unpaired surrogate escape
    (``"\\ud800"``) with a 422 naming where; other bodies pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        where = None
        if _SURROGATE_ESCAPE.search(body):
            try:
                where = _surrogate_path(json.loads(body))
            except ValueError:
                where = None
        if where is not None:
            response = JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", *where],
                            "msg": "text may not contain unpaired UTF-16 surrogates",
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether or not the
    client announced the length."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0
        too_large = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # The body reader may turn our exception into its own error
            # response; whatever the app answers, an oversize body gets 413.
            nonlocal rejected
            if not too_large:
                await send(message)
            elif not rejected:
                rejected = True
                await self._reject(send)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not rejected:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {self.max_bytes} bytes"},
            status_code=413,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": response.body})


class _BodyTooLarge(Exception):
    pass
