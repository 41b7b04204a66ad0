"""The service's database (SQLite by default, PostgreSQL to scale out), shared by the job store, the managed
glossaries and the human corrections: one engine factory, one idea of "unreachable", and one base class that
creates each store's schema on first use and turns an outage into that store's own 503-style error."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import MetaData, create_engine, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

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
    """A store on the service's database. Subclasses name their tables and schema version (created on first use,
    under a lock, upgraded in ``_upgrade``) and say what an outage means to their callers in ``_unavailable``."""

    #: How the store names itself in the log ("job store", "managed glossaries", ...).
    label = "database"
    #: The store's tables, its one-row schema-version table (a model with a ``version`` column), the version this
    #: code writes, and the start of the error for tables written by a newer version of the service.
    metadata: MetaData
    schema_info: type
    schema_version: int
    newer_schema: str

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

    def _unavailable(self, exc: BaseException) -> ServiceError:
        raise NotImplementedError

    def _upgrade(self, s: Session, version: int) -> None:
        """Bring tables written at schema ``version`` up to ``schema_version``, in the session's transaction."""

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    self._migrate()
                    self._schema_ready = True

    def _migrate(self) -> None:
        """Create the tables if needed, or bring older ones up to date. Several processes may open a store at
        once (workers starting together, a reader beside a writer): whoever records the version first wins, the
        others find it."""
        version_now = select(func.max(self.schema_info.version))  # type: ignore[attr-defined]
        for attempt in range(MIGRATE_ATTEMPTS):
            try:
                self.metadata.create_all(self.engine)
                with self.sessions.begin() as s:
                    version = s.scalar(version_now)
                    if version is None:
                        s.add(self.schema_info(version=self.schema_version))
                    elif version < self.schema_version:
                        self._upgrade(s, version)
                break
            except (IntegrityError, ProgrammingError):  # another process recorded the version (or column) first
                if attempt == MIGRATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
            except OperationalError as exc:  # another process is creating it right now, or the database is away
                if attempt == MIGRATE_ATTEMPTS - 1 or not busy(exc):
                    raise
                time.sleep(0.2 * (attempt + 1))
        with self.sessions() as s:
            version = s.scalar(version_now)
        if version is not None and version > self.schema_version:
            raise ServiceError(f"{self.newer_schema} by a newer version (schema {version}).")

    def _reached(self) -> None:
        if self._down:
            self._down = False
            logging.getLogger(type(self).__module__).info("%s %s reachable again", self.label, self.where)
