"""Every glossary a request may name: the read-only built-ins (files in ``glossary_dir``) and the managed ones
(the service's database, ``service.terminology.store``), behind one ``get(name)``.

Every worker keeps the managed glossaries it has used in memory and checks their versions with one small query
at most every ``glossary_refresh_s`` seconds: a change made on any worker or machine is used by every worker
within that time, without a restart (and at once on the worker that made it). A name it has never seen is
looked up at once, so a glossary just created is found by the next request anywhere.

When the database cannot be reached, translation goes on: built-in glossaries never touch it, managed ones
already in memory are used at the version last seen (the report names it), and only a managed glossary this
worker has never loaded is refused (:class:`~service.errors.GlossariesUnavailable`, HTTP 503). The database is
then left alone for ``DOWN_RETRY_S`` seconds between tries, so an outage costs one connection timeout per
interval, not one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from service.config import Settings
from service.errors import GlossariesUnavailable, GlossaryNotFound
from service.terminology.glossary import Glossary, GlossaryStore
from service.terminology.store import ManagedGlossaries

log = logging.getLogger(__name__)

#: Seconds between tries while the glossary database does not answer.
DOWN_RETRY_S = 10.0


class GlossaryRegistry:
    def __init__(self, builtin: GlossaryStore, managed: ManagedGlossaries | None = None, refresh_s: float = 1.0):
        self.builtin = builtin
        self.managed = managed
        self.refresh_s = refresh_s
        self._versions: dict[str, int] = {}  # managed name -> current version, as last seen
        self._checked = float("-inf")
        self._down_until = float("-inf")
        self._refresh_lock = threading.Lock()
        self._loaded: dict[str, Glossary] = {}
        self._load_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> GlossaryRegistry:
        return cls(GlossaryStore(settings.glossary_dir), ManagedGlossaries(settings.jobs_db,
                                                                           settings.jobs_lock_timeout_s),
                   settings.glossary_refresh_s)

    # -- the built-in store's interface, for callers that list glossaries --
    @property
    def glossaries(self) -> dict[str, Glossary]:
        return self.builtin.glossaries

    @property
    def broken(self) -> dict:
        return self.builtin.broken

    def names(self) -> list[str]:
        """Built-in and managed (as last seen; the database is asked at most every refresh_s)."""
        self._refresh()
        return sorted({*self.builtin.names(), *self._versions})

    def usable(self) -> list[str]:
        self._refresh()
        return sorted({*self.builtin.usable(), *self._versions})

    def is_builtin(self, name: str) -> bool:
        return name in self.builtin.glossaries or name in self.builtin.broken

    # -- versions --
    def _refresh(self, force: bool = False) -> None:
        """Ask the database for the current versions, at most every refresh_s (``force``: now, unless it is down
        or another thread is asking)."""
        if self.managed is None:
            return
        now = time.monotonic()
        if now < self._down_until or (not force and now - self._checked < self.refresh_s):
            return
        if not self._refresh_lock.acquire(blocking=force):
            return  # another thread is asking: use what is known
        try:
            if not force and time.monotonic() - self._checked < self.refresh_s:
                return
            try:
                versions = self.managed.versions_now()
            except GlossariesUnavailable:
                self._down_until = time.monotonic() + DOWN_RETRY_S
                return
            self._versions = versions
            self._checked = time.monotonic()
            for name in list(self._loaded):
                if name not in versions:  # deleted elsewhere
                    self._loaded.pop(name, None)
        finally:
            self._refresh_lock.release()

    def changed(self, name: str, version: int | None) -> None:
        """This worker changed ``name`` (None: deleted): use the new version from the next request on."""
        if version is None:
            self._versions.pop(name, None)
            self._loaded.pop(name, None)
        else:
            self._versions[name] = version

    # -- glossaries --
    def get(self, name: str) -> Glossary:
        """A built-in glossary, or a managed one at its current version. Unknown: GlossaryNotFound; broken file:
        GlossaryInvalid; managed but never loaded here while the database is down: GlossariesUnavailable."""
        if self.is_builtin(name) or self.managed is None:
            return self.builtin.get(name)
        self._refresh()
        if name not in self._versions:
            self._refresh(force=True)  # created a moment ago, on another worker?
        version = self._versions.get(name)
        if version is None:
            if time.monotonic() < self._down_until and name in self._loaded:
                return self._loaded[name]  # the database is away: the version last seen
            if time.monotonic() < self._down_until:
                raise GlossariesUnavailable(f"The glossary database cannot be reached, and {name!r} is not a "
                                            "built-in glossary; try again in a minute.", glossary=name)
            raise self._not_found(name)
        cached = self._loaded.get(name)
        if cached is not None and cached.version == str(version):
            return cached
        with self._lock_for(name):
            cached = self._loaded.get(name)
            if cached is not None and int(cached.version) >= version:
                return cached
            try:
                loaded = self.managed.load(name)
            except GlossariesUnavailable:
                if cached is not None:
                    log.warning("glossary %s: the database is away; using version %s", name, cached.version)
                    return cached
                raise
            except GlossaryNotFound:
                self._versions.pop(name, None)
                self._loaded.pop(name, None)
                raise self._not_found(name) from None
            self._loaded[name] = loaded
            if int(loaded.version) > self._versions.get(name, 0):
                self._versions[name] = int(loaded.version)
            return loaded

    def resolve(self, names: Sequence[str]) -> list[Glossary]:
        return [self.get(n) for n in names]

    def _not_found(self, name: str) -> GlossaryNotFound:
        available = sorted({*self.builtin.names(), *self._versions})
        return GlossaryNotFound(f"No glossary named {name!r}; available: {', '.join(available) or 'none'}.",
                                glossary=name, available=available)

    def _lock_for(self, name: str) -> threading.Lock:
        with self._locks_lock:
            return self._load_locks.setdefault(name, threading.Lock())
