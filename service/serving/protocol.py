"""What the server answers before (or instead of) the application: the security headers every response
carries, and the one JSON error body for requests that are not valid HTTP. Kept free of Flask and the
models so that gunicorn's master process can import the worker class cheaply."""

from __future__ import annotations

import json

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form posts, and
    # the cross-site check needs the real origin; other sites still get no referrer at all
    "Referrer-Policy": "same-origin",
}

#: Status -> (reason phrase, code, one sentence) for what the server itself refuses.
PROTOCOL_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("Bad Request", "bad_request", "The request is not valid HTTP/1.1; check its request line, headers "
          "and body framing."),
    403: ("Forbidden", "forbidden", "The request was refused."),
    408: ("Request Timeout", "request_timeout", "The request was not received in time; send it again, whole."),
    413: ("Content Too Large", "input_too_large", "The request body is larger than this server accepts."),
    414: ("URI Too Long", "uri_too_long", "The request line is too long; send the input in the body."),
    417: ("Expectation Failed", "expectation_failed", "Only the Expect: 100-continue expectation is supported."),
    431: ("Request Header Fields Too Large", "headers_too_large", "The request has too many headers, or one "
          "that is too large."),
    500: ("Internal Server Error", "internal_error", "The server failed to handle this request; it is logged."),
    501: ("Not Implemented", "not_implemented", "Only the chunked transfer coding is supported."),
}


def error_response(status: int, message: str | None = None) -> bytes:
    """A complete HTTP/1.1 response (the connection is then closed) with the JSON error body and the
    security headers, as the application would have answered."""
    reason, code, sentence = PROTOCOL_ERRORS.get(status, PROTOCOL_ERRORS[400 if status < 500 else 500])
    body = json.dumps({"error": message or sentence, "code": code}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Connection: close", *(f"{k}: {v}" for k, v in SECURITY_HEADERS.items())]
    if status == 408:
        head.append("Retry-After: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
