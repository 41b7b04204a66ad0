"""API keys, rate limits counted in characters, and the browser-facing security headers.

API keys are stored as SHA-256 hashes (they are random 32-byte tokens, so a slow password hash adds nothing)
and compared in constant time; a key is never logged, and the rate limiter keys on the hash, not the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import secrets
import time
from pathlib import Path

from flask import Flask, Response, request

from service.config import Settings
from service.errors import ConfigError
from service.http.errors import ApiError

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    key = secrets.token_urlsafe(32)
    return key, hash_key(key)


class ApiKeys:
    def __init__(self, path: str, required: bool):
        self.required = required
        self.names: dict[str, str] = {}  # hash -> name
        if path:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"Cannot read the API keys file {path}.") from exc
            for n, line in enumerate(lines, 1):
                parts = line.split(None, 1)
                if not parts or line.lstrip().startswith("#"):
                    continue
                digest = parts[0].lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise ConfigError(f"{path}:{n}: expected a SHA-256 hex digest (python -m service keys new).")
                self.names[digest] = parts[1].strip() if len(parts) > 1 else f"key{n}"
        if required and not self.names:
            raise ConfigError("require_api_key is on but no API key is configured (api_keys_file).")

    @staticmethod
    def presented() -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        if request.headers.get("X-API-Key"):
            return request.headers["X-API-Key"].strip()
        if request.form.get("api_key"):
            return request.form["api_key"].strip()
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict) and isinstance(body.get("api_key"), str):
                return body["api_key"].strip()
        return None

    def identify(self) -> str | None:
        """The key's hash if a valid key was presented; raises 401 when one is required or invalid."""
        key = self.presented()
        if not key:
            if self.required:
                raise ApiError(401, "api_key_required", "An API key is required (Authorization: Bearer KEY).",
                               headers={"WWW-Authenticate": "Bearer"})
            return None
        digest = hash_key(key)
        found = None
        for known in self.names:  # compare with every key, in constant time each
            if hmac.compare_digest(known, digest):
                found = known
        if found is None:
            raise ApiError(401, "invalid_api_key", "The API key is not valid.",
                           headers={"WWW-Authenticate": "Bearer"})
        return found


class CharacterRateLimit:
    """A moving-window limit on characters per client, shared by workers when storage is Redis."""

    def __init__(self, spec: str, storage_uri: str):
        from limits import parse, storage, strategies

        self.spec = spec
        self.item = parse(spec) if spec else None
        self.limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri or "memory://"))

    def charge(self, client: str, characters: int) -> None:
        if self.item is None or characters <= 0:
            return
        if characters > self.item.amount:
            raise ApiError(413, "input_too_large", f"This request has {characters:,} characters, more than the "
                           f"rate limit allows at once ({self.spec}).", limit=self.item.amount)
        if not self.limiter.hit(self.item, client, cost=characters):
            reset = self.limiter.get_window_stats(self.item, client).reset_time
            retry = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, "rate_limited", f"Rate limit of {self.spec} characters reached; retry in "
                           f"{retry} s.", headers={"Retry-After": str(retry)}, retry_after=retry)


def client_id(key_hash: str | None) -> str:
    return f"key:{key_hash[:16]}" if key_hash else f"addr:{request.remote_addr or 'unknown'}"


def load_secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.secret_key_file)
    if not path.exists():  # written whole, then linked into place: a worker never reads half a key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(secrets.token_hex(32), encoding="utf-8")
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


def install_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response
