"""Error responses that can always be written as JSON, whatever the request held.

FastAPI's own handlers echo the offending input in a 422 (and a route may put it in an HTTPException's
detail). Input can hold what JSON cannot carry or what is costly to encode: a lone surrogate from an
escaped `"\\ud800"` (UTF-8 cannot encode it), NaN or Infinity (`1e999`; strict JSON has no such number),
or nesting deep enough that a recursive encoder runs out of stack. Each of those turned a 422 into a 500.
These handlers answer the same status and shape, with lone surrogates replaced by U+FFFD, non-finite
numbers written as strings, and anything nested deeper than MAX_DEPTH cut off.
"""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

MAX_DEPTH = 12
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_safe(value: Any, depth: int = 0) -> Any:
    """A copy of `value` that strict UTF-8 JSON can carry (see the module docstring)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {json_safe(str(k) if not isinstance(k, str) else k, depth + 1): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, BaseException):
        return {}  # what FastAPI's encoder makes of an exception in an error's ctx
    try:  # dates, decimals, URLs, models...: FastAPI's encoder makes plain JSON values of them
        encoded = jsonable_encoder(value)
    except Exception:  # an object it does not know: its text is enough for an error message
        return _SURROGATE.sub("\ufffd", str(value))
    return json_safe(encoded, depth + 1)


async def validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": json_safe(error.errors())}, status_code=422)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    safe = HTTPException(error.status_code, json_safe(error.detail), getattr(error, "headers", None))
    return await http_exception_handler(request, safe)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
