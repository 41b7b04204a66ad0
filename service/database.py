"""The service's database (SQLite by default, PostgreSQL to scale out), shared by the job store, the managed
glossaries and the human corrections: one engine factory, one idea of "unreachable", and one base class that
creates each store's schema on first use and turns an outage into that store's own 503-style error."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import sessionmaker

from service.errors import ServiceError

#: Tries at creating a schema while other processes may be creating it too (bounded: a real error surfaces).
MIGRATE_ATTEMPTS = 5
#: What "the database cannot be reached" looks like from SQLAlchemy (refused, gone, locked too long, pool empty).
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)
#: Seconds a client may wait for a connection to PostgreSQL; a route answers 503 after it, not never.
CONNECT_TIMEOUT_S = 5

T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str, lock_timeout_s: float = 30.0) -> Engine:
    """An engine on the service's database, connecting on first use: SQLite in WAL mode with foreign keys,
    waiting ``lock_timeout_s`` for a write lock; PostgreSQL with a bounded connect timeout."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        connect_args: dict[str, Any] = {"timeout": lock_timeout_s}
    elif url.startswith("postgresql"):
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_S}
    else:
        connect_args = {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)  # connects on first use
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    return engine


def busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked" / "table already exists" while another process creates the schema."""
    message = str(exc.orig).lower()
    return "locked" in message or "already exists" in message or "busy" in message


def reachable(method: Callable[..., T]) -> Callable[..., T]:
    """Run a store's ``method`` with its schema in place; an unreachable database becomes the store's own error
    (``_unavailable``), logged once per outage."""

    @functools.wraps(method)
    def wrapper(self: DatabaseStore, *args: Any, **kwargs: Any) -> T:
        try:
            self._ensure_schema()
            result = method(self, *args, **kwargs)
        except UNREACHABLE as exc:
            raise self._unavailable(exc) from None
        self._reached()
        return result

    return wrapper


class DatabaseStore:
    """A store on the service's database. Subclasses create or upgrade their tables in ``_migrate`` (run once, on
    first use, under a lock) and say what an outage means to their callers in ``_unavailable``."""

    #: How the store names itself in the log ("job store", "managed glossaries", ...).
    label = "database"

    def __init__(self, url: str, lock_timeout_s: float = 30.0):
        """``lock_timeout_s``: how long a SQLite call waits for another process's write lock."""
        self.url = url
        self.engine = make_engine(url, lock_timeout_s)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        self._down = False

    @property
    def where(self) -> str:
        """The store's URL without its password, for messages and logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def _migrate(self) -> None:
        raise NotImplementedError

    def _unavailable(self, exc: BaseException) -> ServiceError:
        raise NotImplementedError

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    self._migrate()
                    self._schema_ready = True

    def _reached(self) -> None:
        if self._down:
            self._down = False
            logging.getLogger(type(self).__module__).info("%s %s reachable again", self.label, self.where)
