"""Reading request bodies safely: content type, size, UTF-8, JSON constants, nesting, then the schema."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from flask import Request, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service.http.errors import ApiError, MalformedBody
from service.validation import JsonInvalid, loads_json

M = TypeVar("M", bound=BaseModel)
JSON, FORM, MULTIPART = "application/json", "application/x-www-form-urlencoded", "multipart/form-data"


class BodyStream(io.RawIOBase):
    """The body of a request without Content-Length (chunked): more than ``limit`` bytes is a 413 (Werkzeug
    would cut it at the limit and let the parser fail with a misleading 400), and a body the server cannot
    decode (broken chunked framing) is a 400, not a 500."""

    def __init__(self, stream: Any, limit: int):
        self._stream, self.limit, self._pos = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos > self.limit:
            raise RequestEntityTooLarge()
        try:
            data = self._stream.read(min(len(buffer), self.limit + 1 - self._pos))
        except HTTPException:
            raise
        except Exception:  # the server's chunked decoder: the framing is broken
            raise MalformedBody() from None
        n = len(data)
        buffer[:n] = data
        self._pos += n
        if self._pos > self.limit:
            raise RequestEntityTooLarge()
        return n


class ServiceRequest(Request):
    @cached_property
    def stream(self) -> Any:  # type: ignore[override]
        if (self.content_length is None and self.max_content_length is not None
                and "wsgi.input_terminated" in self.environ):
            return io.BufferedReader(BodyStream(self.environ["wsgi.input"], self.max_content_length))
        return super().stream


def parse_json(max_depth: int) -> Any:
    """The JSON body, parsed once per request (authentication may look for an ``api_key`` in it first)."""
    if "json_body" in g:
        return g.json_body
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.")
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_utf8", "The body is not valid UTF-8.") from None
    try:
        g.json_body = loads_json(text, max_depth)
    except JsonInvalid as exc:
        raise ApiError(400, "invalid_json", f"The body is {exc}.") from None
    return g.json_body


def read_json(model: type[M]) -> Callable[[], M]:
    """The body reader of a JSON route (for its policy): the safe JSON parse, then the model."""
    def reader() -> M:
        from service.http.state import current_service

        return validate(model, parse_json(current_service().settings.max_json_depth))

    return reader


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
                    for e in exc.errors(include_url=False, include_input=False, include_context=False)]
        first = problems[0]
        raise ApiError(422, "validation_error", f"{first['field']}: {first['problem']}",
                       problems=problems) from None
