"""RFC 9457 problem+json everywhere: a client always gets a typed, explainable error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("aurora.errors")


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers
        self.extensions = extensions


class NotFoundError(ProblemError):
    """Another user's resource and a missing one must look identical (404, same body)."""

    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, f"{what} not found")


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing the offending input back could reflect secrets (passwords) into logs
    # and responses, so only the location and the message are returned.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


# PostgreSQL refuses these characters whatever the column: they can only come from the
# client's input, which no model rejected, so they are the client's error (422), not ours.
_CLIENT_CHARACTER_ERRORS = {
    "22021": "text must not contain NUL characters",  # character_not_in_repertoire
    "22P05": "text must not contain NUL characters",  # untranslatable_character (\u0000)
}


def _before_dependencies(exc: Exception) -> bool:
    """Errors FastAPI raises while reading the body, before it resolves any dependency
    (router-level ones included): an undecodable JSON body, or an unparsable form (the
    framework's own HTTPException 400; application code raises ProblemError instead)."""
    if isinstance(exc, RequestValidationError):
        return any(err.get("type") == "json_invalid" for err in exc.errors())
    return isinstance(exc, StarletteHTTPException) and exc.status_code == 400


def install_problem_handlers(
    app: FastAPI, *, authenticate_first: Callable[[Request], Awaitable[None]] | None = None
) -> None:
    """`authenticate_first` runs before a body-parsing error is reported, so that an
    anonymous caller of a protected route gets 401, not a 422 describing the route."""

    async def authentication_problem(request: Request, exc: Exception) -> JSONResponse | None:
        if authenticate_first is None or not _before_dependencies(exc):
            return None
        try:
            await authenticate_first(request)
        except ProblemError as problem:
            return await on_problem(request, problem)
        return None

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extensions,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if (refused := await authentication_problem(request, exc)) is not None:
            return refused
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if (refused := await authentication_problem(request, exc)) is not None:
            return refused
        errors = _validation_errors(exc)
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem_response(
            422,
            f"invalid request: {fields}",
            title="Unprocessable Content",
            instance=request.url.path,
            errors=errors,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never leak a stack trace to the client; the log carries it with the request id.
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, "internal error", instance=request.url.path)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        if state in _CLIENT_CHARACTER_ERRORS:
            return problem_response(422, _CLIENT_CHARACTER_ERRORS[state], instance=request.url.path)
        return await on_unexpected(request, exc)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(Exception, on_unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` lists a 422's invalid fields.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def document_problems(document: dict[str, Any], protected: set[tuple[str, str]]) -> None:
    """Make the OpenAPI document say what the handlers above answer.

    FastAPI documents its own 422 body (`HTTPValidationError`, which echoes the input)
    as application/json; every error here is a problem+json document instead. Operations
    in `protected` ((METHOD, path) pairs) need a bearer token and may answer 401.
    """
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    problem = {
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    }
    if protected:
        components.setdefault("securitySchemes", {})["bearer"] = BEARER_SCHEME
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid request", **problem}
            if (method.upper(), path) in protected:
                operation["security"] = [{"bearer": []}]
                responses.setdefault(
                    "401", {"description": "Missing, invalid, expired or revoked token", **problem}
                )
            responses.setdefault("default", {"description": "Error", **problem})
    for name in ("HTTPValidationError", "ValidationError"):  # unused now, unless named
        if f"#/components/schemas/{name}" not in _refs(document):
            schemas.pop(name, None)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()
