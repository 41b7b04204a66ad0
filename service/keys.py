"""API keys: the keys file, read by every server worker and written by ``python -m service keys``.

One key a line; the first format (``<sha256 hex> <name>``) is still read as it was::

    # comments and blank lines are ignored
    <sha256 hex of the key> <name>                              role user, the server's rate limit
    <sha256 hex of the key> <name> role=admin limit=2000000/day   options at the end, in any order

``role`` is ``user`` (default: sees its own jobs) or ``admin`` (sees every job). ``limit`` is the key's own
character rate limit (same syntax as the ``rate_limit`` setting), instead of the server-wide one. ``char_limit``
(characters in one request) and ``req_limit`` (requests a minute) are the per-key limits LibreTranslate's keys have,
so that an operator moving from LibreTranslate keeps them.

Only hashes are stored: a key is 32 random bytes, so SHA-256 is enough (a slow password hash adds nothing),
and the file never holds a usable key. A revoked key's line stays as a comment
(``# revoked <UTC time>: <line>``), so the file keeps its history and older versions still read it.
The file is rewritten whole and renamed into place, so a server re-reading it never sees half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.errors import ConfigError, InvalidInput

ROLES = ("user", "admin")
REVOKED = "# revoked "
#: Names given with ``keys new``: short, printable, no spaces (they are how keys are listed and revoked).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    key = secrets.token_urlsafe(32)
    return key, hash_key(key)


def check_limit(spec: str) -> str:
    """A rate-limit spec such as ``200000/hour``; raises ValueError when it is not one."""
    from limits import parse

    try:
        parse(spec)
    except ValueError:
        raise ValueError(f"{spec!r} is not a rate limit such as 200000/hour") from None
    return spec


@dataclass(frozen=True)
class KeyRecord:
    digest: str
    name: str
    role: str = "user"
    #: the key's own character rate limit ("" = the server's ``rate_limit``)
    limit: str = ""
    #: characters in one request (0 = no such limit), as LibreTranslate's char_limit
    char_limit: int = 0
    #: requests a minute (0 = no such limit), as LibreTranslate's req_limit
    req_limit: int = 0

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    def line(self) -> str:
        options = [f"role={self.role}"] if self.role != "user" else []
        options += [f"limit={self.limit}"] if self.limit else []
        options += [f"char_limit={self.char_limit}"] if self.char_limit else []
        options += [f"req_limit={self.req_limit}"] if self.req_limit else []
        return " ".join([self.digest, self.name, *options])


def parse_line(line: str, where: str) -> KeyRecord | None:
    """One line of the keys file; None for comments and blank lines. Raises ConfigError naming ``where``."""
    parts = line.split()
    if not parts or line.lstrip().startswith("#"):
        return None
    digest = parts[0].lower()
    if not _HEX.match(digest):
        raise ConfigError(f"{where}: expected a SHA-256 hex digest (python -m service keys new).")
    options: dict[str, str] = {}
    words = parts[1:]
    while words and re.match(r"^(role|limit|char_limit|req_limit)=", words[-1]):
        name, _, value = words.pop().partition("=")
        options[name] = value
    role = options.get("role", "user")
    if role not in ROLES:
        raise ConfigError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}.")
    limit = options.get("limit", "")
    if limit:
        try:
            check_limit(limit)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}.") from None
    counts = {}
    for option in ("char_limit", "req_limit"):
        value = options.get(option, "0")
        if not value.isdigit():
            raise ConfigError(f"{where}: {option} must be a whole number, not {value!r}.")
        counts[option] = int(value)
    name = " ".join(words) or f"key{where.rpartition(':')[2]}"
    return KeyRecord(digest, name, role, limit, counts["char_limit"], counts["req_limit"])


def read_keys(path: Path) -> list[KeyRecord]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the API keys file {path}"
                          f"{': ' + exc.strerror if isinstance(exc, OSError) and exc.strerror else ''}.") from None
    records = (parse_line(line, f"{path}:{n}") for n, line in enumerate(lines, 1))
    return [r for r in records if r is not None]


@dataclass(frozen=True)
class Revoked:
    name: str
    when: str


def read_revoked(path: Path) -> list[Revoked]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        if line.startswith(REVOKED):
            when, _, rest = line[len(REVOKED):].partition(": ")
            record = parse_line(rest, str(path))
            if record is not None:
                out.append(Revoked(record.name, when))
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (two `keys new` at once must not lose a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _write(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # atomic: a server re-reading the file sees the old one or the new one


def add_key(path: Path, name: str, role: str = "user", limit: str = "", char_limit: int = 0,
            req_limit: int = 0) -> tuple[str, KeyRecord]:
    """Make a key, store its hash in ``path`` and return (the key, its record). The key is shown once."""
    if not NAME_PATTERN.match(name):
        raise InvalidInput(f"Key names have 1 to 64 letters, digits or . _ @ -, not {name!r}.")
    if role not in ROLES:
        raise InvalidInput(f"A key's role is one of {', '.join(ROLES)}.")
    if char_limit < 0 or req_limit < 0:
        raise InvalidInput("char_limit and req_limit are whole numbers (0 for none).")
    if limit:
        try:
            check_limit(limit)
        except ValueError as exc:
            raise InvalidInput(f"{exc}.") from None
    with _locked(path):
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if any(r.name == name for r in (read_keys(path) if path.exists() else [])):
            raise InvalidInput(f"A key named {name!r} exists already; revoke it first or choose another name.")
        key, digest = new_key()
        record = KeyRecord(digest, name, role, limit, char_limit, req_limit)
        _write(path, [*lines, record.line()])
    return key, record


def revoke_key(path: Path, name: str) -> int:
    """Turn every active key named ``name`` into a ``# revoked`` comment; returns how many."""
    if not path.exists():
        raise InvalidInput(f"The API keys file {path} does not exist.")
    with _locked(path):
        lines = path.read_text(encoding="utf-8").splitlines()
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out, count = [], 0
        for n, line in enumerate(lines, 1):
            record = parse_line(line, f"{path}:{n}")
            if record is not None and record.name == name:
                out.append(f"{REVOKED}{when}: {line.strip()}")
                count += 1
            else:
                out.append(line)
        if count:
            _write(path, out)
    return count
