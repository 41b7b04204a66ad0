"""Checks every input path shares, whatever brought the input in (JSON body, form field, uploaded file,
command line): text a person could have typed, and JSON read without letting its nesting exhaust the stack.

One definition each, so the JSON route, the multipart upload and the batch files cannot drift apart."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator

#: Nesting depth of JSON read from a file line when the caller gives none (our documents are 1 deep).
DEFAULT_JSON_DEPTH = 32


def check_text(value: str) -> str:
    """Text a person could have typed: no NUL (PostgreSQL cannot store it, and no language uses it) and no
    lone surrogates (they cannot be encoded as UTF-8). Raises ValueError saying which."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("text must not contain lone surrogates")
    return value


#: A string field checked by :func:`check_text`: use it for every text, id and name that comes from outside.
CleanText = Annotated[str, AfterValidator(check_text)]


class JsonInvalid(ValueError):
    """Not valid JSON, or nested too deeply; the message is one sentence for the user."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def loads_json(text: str, max_depth: int = DEFAULT_JSON_DEPTH) -> Any:
    """``json.loads`` without NaN/Infinity/1e309, and with nesting bounded by ``max_depth``."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise JsonInvalid("nested too deeply") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise JsonInvalid(f"not valid JSON{where}") from None
    if too_deep(value, max_depth):
        raise JsonInvalid(f"nested deeper than {max_depth} levels")
    return value
