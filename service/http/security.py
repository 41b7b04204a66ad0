"""Who is calling (API keys, the web form's signed-in session), how much they may send (a rate limit counted
in characters), where they are calling from (trusted proxies, cross-site requests), and the browser-facing
security headers. Enforced for every route by ``service.http.policy``; nothing here is called by a view.

Keys are compared by their SHA-256 hash in constant time and never logged; the rate limiter keys on the hash.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, session
from werkzeug.middleware.proxy_fix import ProxyFix

from service.config import Settings
from service.errors import ConfigError
from service.http.errors import ApiError
from service.keys import KeyRecord, hash_key, read_keys
from service.serving.protocol import SECURITY_HEADERS

log = logging.getLogger(__name__)

#: Session entry of the web form's signed-in key (its hash: the cookie is signed, and never holds the key).
SESSION_KEY = "api_key_hash"
FAILURE_MODES = ("open", "closed")
#: Seconds a client is told to wait when the rate limiter cannot count (fail-closed).
STORAGE_RETRY_AFTER_S = 5
#: One log line per this many seconds while the rate limiter's storage is failing, not one per request.
STORAGE_LOG_EVERY_S = 60.0


@dataclass(frozen=True)
class Caller:
    """Who made this request: a key's record, or nobody (no key presented and none required)."""

    key: KeyRecord | None = None
    address: str = "unknown"

    @property
    def owner(self) -> str | None:
        """What jobs are stored under: the key's hash (a key's name may be reused after a revocation)."""
        return self.key.digest if self.key else None

    @property
    def admin(self) -> bool:
        return bool(self.key and self.key.admin)

    @property
    def bucket(self) -> str:
        """The rate-limit bucket: per key, or per client address without one."""
        return f"key:{self.key.digest[:16]}" if self.key else f"addr:{self.address}"

    def can_see(self, owner: str | None) -> bool:
        """Jobs belong to the key that created them; admins see all; without a key, the keyless jobs."""
        return self.admin or owner == self.owner


class ApiKeys:
    """The keys file, re-read when it changes (checked at most every ``reload_s`` seconds, a stat() call), so
    that a key added or revoked with ``python -m service keys`` takes effect on every worker without a restart.
    A file that becomes unreadable or invalid is logged and the last good keys stay in force."""

    def __init__(self, path: str, required: bool, reload_s: float = 2.0):
        self.path = Path(path) if path else None
        self.required = required
        self.reload_s = reload_s
        self._lock = threading.Lock()
        self._records: dict[str, KeyRecord] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._checked = time.monotonic()
        if self.path is not None:
            self._stamp = self._stat()
            self._records = {r.digest: r for r in read_keys(self.path)}
        if required and not self._records:
            raise ConfigError("require_api_key is on but no API key is configured (api_keys_file).")

    @property
    def configured(self) -> bool:
        return self.path is not None

    def _stat(self) -> tuple[int, int, int] | None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _refresh(self) -> None:
        if self.path is None or time.monotonic() - self._checked < self.reload_s:
            return
        with self._lock:
            if time.monotonic() - self._checked < self.reload_s:
                return
            self._checked = time.monotonic()
            stamp = self._stat()
            if stamp == self._stamp:
                return
            try:
                records = {r.digest: r for r in read_keys(self.path)}
            except ConfigError as exc:
                log.error("API keys file not reloaded, the previous keys stay in force: %s", exc.message)
                return
            self._records, self._stamp = records, stamp
            log.info("API keys file reloaded: %d key%s", len(records), "" if len(records) == 1 else "s")

    def lookup(self, digest: str) -> KeyRecord | None:
        """The record of a key hash, compared with every known hash in constant time."""
        self._refresh()
        found = None
        for known, record in self._records.items():
            if hmac.compare_digest(known, digest):
                found = record
        return found

    def records(self) -> list[KeyRecord]:
        self._refresh()
        return list(self._records.values())


def presented_key(json_body: Callable[[], Any] | None = None) -> str | None:
    """The key the request carries: ``Authorization: Bearer`` (or ``DeepL-Auth-Key``, DeepL's clients), ``X-API-Key``,
    or an ``api_key`` form or JSON field (LibreTranslate clients send it there). Never the query string: URLs end up
    in logs."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    if auth.lower().startswith("deepl-auth-key "):  # DeepL's clients (service.http.deepl)
        return auth[15:].strip() or None
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"].strip() or None
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = request.form.get("api_key")
        return value.strip() if value and value.strip() else None
    if request.is_json and json_body is not None:
        try:
            body = json_body()
        except ApiError:  # malformed: the body's reader says so after authentication
            return None
        if isinstance(body, dict) and isinstance(body.get("api_key"), str) and body["api_key"].strip():
            return body["api_key"].strip()
    return None


def identify(keys: ApiKeys, required: bool, json_body: Callable[[], Any] | None = None,
             use_session: bool = False) -> Caller:
    """The caller of this request. A presented key must be valid (401 otherwise); without one, the web
    pages' signed-in session counts (``use_session``); with neither, 401 when ``required``."""
    address = request.remote_addr or "unknown"
    key = presented_key(json_body)
    if key is not None:
        record = keys.lookup(hash_key(key))
        if record is None:
            raise ApiError(401, "invalid_api_key", "The API key is not valid.", headers={"WWW-Authenticate": "Bearer"})
        return Caller(record, address)
    if use_session and session.get(SESSION_KEY):
        record = keys.lookup(str(session[SESSION_KEY]))
        if record is not None:
            return Caller(record, address)
        session.pop(SESSION_KEY, None)  # revoked since sign-in
    if required:
        raise ApiError(401, "api_key_required", "An API key is required (Authorization: Bearer KEY).",
                       headers={"WWW-Authenticate": "Bearer"})
    return Caller(None, address)


class CharacterRateLimit:
    """A moving-window limit on characters per caller (a key's own limit, or the server's), shared by workers
    when the storage is Redis. When the storage fails, ``failure_mode`` decides: "open" lets the request
    through, "closed" answers 503 with Retry-After; either way it is logged and counted (``on_error``)."""

    def __init__(self, spec: str, storage_uri: str, failure_mode: str = "open", timeout_s: float = 0.5,
                 on_error: Callable[[], None] | None = None):
        from limits import parse, storage, strategies

        if failure_mode not in FAILURE_MODES:
            raise ConfigError(f"rate_limit_failure_mode must be one of {', '.join(FAILURE_MODES)}, not "
                              f"{failure_mode!r}.")
        self.spec = spec
        self.failure_mode = failure_mode
        self.on_error = on_error
        self._parse = parse
        self._items: dict[str, Any] = {}
        try:
            self.item = parse(spec) if spec else None
        except ValueError:
            raise ConfigError(f"rate_limit {spec!r} is not a rate limit such as 200000/hour.") from None
        options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s} if storage_uri else {}
        self.limiter = strategies.MovingWindowRateLimiter(
            storage.storage_from_string(storage_uri or "memory://", **options))
        self._last_log = 0.0

    def _item_for(self, caller: Caller) -> tuple[Any, str]:
        spec = caller.key.limit if caller.key and caller.key.limit else self.spec
        if not spec:
            return None, spec
        if spec not in self._items:
            self._items[spec] = self._parse(spec)
        return self._items[spec], spec

    def charge_request(self, caller: Caller) -> None:
        """One request against the key's own ``req_limit`` (requests a minute, as LibreTranslate's keys have)."""
        if caller.key is None or not caller.key.req_limit:
            return
        spec = f"{caller.key.req_limit}/minute"
        if spec not in self._items:
            self._items[spec] = self._parse(spec)
        item = self._items[spec]
        try:
            allowed = self.limiter.hit(item, "req:" + caller.bucket)
            reset = None if allowed else self.limiter.get_window_stats(item, "req:" + caller.bucket).reset_time
        except Exception as exc:  # the shared storage is down: the failure mode decides, never a 500
            self._storage_failed(exc)
            return
        if not allowed:
            retry = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, "too_many_requests", f"This key may send {caller.key.req_limit} requests a minute "
                           f"(its req_limit); retry in {retry} s.", headers={"Retry-After": str(retry)},
                           retry_after=retry)

    def charge(self, caller: Caller, characters: int) -> None:
        if caller.key is not None and caller.key.char_limit and characters > caller.key.char_limit:
            raise ApiError(413, "input_too_large", f"This request has {characters:,} characters; this key may send "
                           f"{caller.key.char_limit:,} in one request (its char_limit).",
                           limit=caller.key.char_limit)
        item, spec = self._item_for(caller)
        if item is None or characters <= 0:
            return
        if characters > item.amount:
            raise ApiError(413, "input_too_large", f"This request has {characters:,} characters, more than the "
                           f"rate limit allows at once ({spec}).", limit=item.amount)
        try:
            allowed = self.limiter.hit(item, caller.bucket, cost=characters)
            reset = None if allowed else self.limiter.get_window_stats(item, caller.bucket).reset_time
        except Exception as exc:  # the shared storage (Redis) is down or slow: the failure mode decides, never a 500
            self._storage_failed(exc)
            return
        if not allowed:
            retry = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, "rate_limited", f"Rate limit of {spec} characters reached; retry in "
                           f"{retry} s.", headers={"Retry-After": str(retry)}, retry_after=retry)

    def usage(self, caller: Caller) -> tuple[int, int | None]:
        """(characters used in the current window, the window's limit) of the caller's limit; (0, None) without
        one. A storage failure reads as nothing used."""
        item, _ = self._item_for(caller)
        if item is None:
            return 0, None
        try:
            stats = self.limiter.get_window_stats(item, caller.bucket)
        except Exception as exc:  # the shared storage (Redis) is down or slow: counted and logged, never a 500
            self._storage_failed_quietly(exc)
            return 0, item.amount
        return max(0, item.amount - stats.remaining), item.amount

    def _storage_failed_quietly(self, exc: Exception) -> None:
        if self.on_error is not None:
            self.on_error()
        log.warning("rate limiter storage unreachable (%s) while reading usage", exc.__class__.__name__)

    def _storage_failed(self, exc: Exception) -> None:
        if self.on_error is not None:
            self.on_error()
        now = time.monotonic()
        if now - self._last_log >= STORAGE_LOG_EVERY_S:
            self._last_log = now
            log.warning("rate limiter storage unreachable (%s: %s); failing %s (rate_limit_failure_mode); logged "
                        "once a minute, counted in rate_limit_errors_total", exc.__class__.__name__, exc,
                        self.failure_mode)
        if self.failure_mode == "closed":
            raise ApiError(503, "rate_limit_unavailable", "The rate limiter is unavailable; retry in "
                           f"{STORAGE_RETRY_AFTER_S} s.", headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)},
                           retry_after=STORAGE_RETRY_AFTER_S)


def same_origin() -> bool:
    """Whether a browser sent this request from our own pages (or it does not come from a browser).
    ``Sec-Fetch-Site`` (every current browser) says so directly; otherwise ``Origin`` (sent by browsers on
    every POST; "null" from sandboxed or privacy-restricted pages) must equal this server's origin; a request
    with neither does not come from a browser."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.host}"
    return True


class TrustedProxies:
    """WSGI middleware: believe ``X-Forwarded-For/-Proto/-Host/-Prefix`` only from the reverse proxies listed
    in ``trusted_proxies`` (addresses or networks), through Werkzeug's ProxyFix with ``hops`` proxies. From
    any other peer the headers are ignored, so a client cannot choose its own rate-limit bucket."""

    def __init__(self, app: Any, trusted: str, hops: int = 1):
        try:
            self.networks = [ipaddress.ip_network(item.strip(), strict=False)
                             for item in trusted.split(",") if item.strip()]
        except ValueError:
            raise ConfigError(f"trusted_proxies {trusted!r} must list addresses or networks, such as "
                              "127.0.0.1,10.0.0.0/8.") from None
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    def trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if self.networks and self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


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
