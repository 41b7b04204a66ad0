"""gunicorn's logger, with credentials kept out of the access and error logs: an ``api_key`` sent in the query
string (which the service never accepts, but clients try) and the ``Authorization``/``X-API-Key`` headers
are replaced by ``[redacted]`` in every field a log format can name."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

#: ``api_key=...`` in a query string or request line (any case, any parameter spelling ending in api_key).
SECRET_PARAMETER = re.compile(r"((?:^|[?&;\s])[^=&;\s]*api[_-]?key=)[^&;\s]*", re.IGNORECASE)
SECRET_HEADERS = ("{authorization}i", "{x-api-key}i", "{cookie}i", "{http_authorization}e", "{http_x_api_key}e",
                  "{http_cookie}e")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if name in SECRET_HEADERS and value not in (None, "-"):
                atoms[name] = REDACTED
            elif isinstance(value, str) and "key=" in value.lower():
                atoms[name] = redact(value)
        return atoms
