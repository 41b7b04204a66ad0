"""The gunicorn worker: gunicorn's threaded worker (``gthread``), except that each request is read in the
worker's event loop, without a thread, until it is complete (or ``request_buffer_bytes`` of it have come),
and only then handed to a request thread.

Why: a gthread thread reads its request with blocking calls, so 40 clients sending a byte a second hold 40
threads and the worker stops answering, ``/healthz`` included (gunicorn only waits for the *first* byte
without a thread). Here a slow client costs a buffer and a socket in the event loop, is cut off with 408
after ``request_read_timeout_s``, and the threads stay free for complete requests: the same protection as
a buffering proxy in front (nginx's default), which production deployments should still have (README).

h11 (the HTTP/1.1 state machine httpx and others are built on) decides when a request is complete (length,
chunked framing) and refuses what is not HTTP; the bytes are then handed to gunicorn's own parser unchanged.
Requests the server refuses itself (from h11 here, or gunicorn's parser: request line too long, too many
headers, bad Content-Length, broken chunks) get the service's JSON error body with the security headers,
not gunicorn's HTML page. TLS is left to the front proxy: with ``certfile`` set this worker reads no ahead.
"""

from __future__ import annotations

import errno
import re
import ssl
import time
from datetime import timedelta
from functools import partial
from typing import Any

import h11
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.config import load_settings
from service.serving.logs import redact
from service.serving.protocol import error_response

#: Largest piece read from a socket at once.
RECV_BYTES = 64 * 1024
#: Request head (request line and headers) read in the event loop; gunicorn's own limits (limit_request_line,
#: limit_request_fields) then apply to it as well.
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a stopping worker (SIGTERM, max_requests) still waits for a connection that has sent nothing yet,
#: as gthread waits for a first byte: a client that connected just before the stop still gets its answer.
STOP_IDLE_S = 5.0
_EXPECT = re.compile(rb"(?im)^expect:[^\r\n]*\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")

#: gunicorn's parse errors -> the status we answer (anything else the client sent wrong: 400).
STATUS = [
    ((http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName,
      http_errors.ConfigurationProblem), 500),
    ((http_errors.LimitRequestLine,), 414),
    ((http_errors.LimitRequestHeaders,), 431),
    ((http_errors.ExpectationFailed,), 417),
    ((http_errors.UnsupportedTransferCoding,), 501),
    ((http_errors.ForbiddenProxyRequest, ssl.SSLError), 403),
    ((http_errors.ParseException,), 400),
]


def status_for(exc: BaseException) -> int:
    return next((status for classes, status in STATUS if isinstance(exc, classes)), 500)


class Incoming:
    """One request being read in the event loop."""

    def __init__(self, buffer_bytes: int, deadline: float):
        self.parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.raw = bytearray()
        self.buffer_bytes = buffer_bytes
        self.deadline = deadline
        self.started = time.monotonic()
        self.head_seen = False
        self.continue_sent = False

    def feed(self, data: bytes) -> int | bool | None:
        """Take more bytes. Returns True when the request can go to a thread (complete, or the buffer is
        full), an HTTP status to refuse it with, or None to wait for more."""
        self.raw += data
        self.parser.receive_data(data)
        while True:
            try:
                event = self.parser.next_event()
            except h11.RemoteProtocolError as exc:
                return exc.error_status_hint
            if isinstance(event, h11.Request):
                self.head_seen = True
            elif event is h11.NEED_DATA:
                return True if len(self.raw) >= self.buffer_bytes else None
            elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                return True
            # Data: counted in self.raw; loop on

    def wants_continue(self) -> bool:
        return self.head_seen and not self.continue_sent and self.parser.they_are_waiting_for_100_continue

    def without_expect(self) -> None:
        """We answer ``Expect: 100-continue`` ourselves: drop it from the head so gunicorn does not again."""
        end = _HEAD_END.search(self.raw)
        if end is not None:
            head = _EXPECT.sub(b"", bytes(self.raw[:end.end()]))
            self.raw = bytearray(head) + self.raw[end.end():]
        self.continue_sent = True


class BufferingWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        settings = load_settings()
        self.read_timeout = settings.request_read_timeout_s
        self.buffer_bytes = max(1, settings.request_buffer_bytes)
        self.incoming: dict[Any, Incoming] = {}  # connection -> its request so far, oldest first

    # -- reading in the event loop ---------------------------------------------------------------------
    def accept(self, listener: Any) -> None:
        if self.cfg.is_ssl:
            return super().accept(listener)
        try:
            client, address = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read(TConn(self.cfg, client, address, listener.getsockname()))  # TConn makes it non-blocking

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has a new request: read it here too, not in a thread."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read(conn)

    def _read(self, conn: Any) -> None:
        self.incoming[conn] = Incoming(self.buffer_bytes, time.monotonic() + self.read_timeout)
        self.poller.register(conn.sock, 1, partial(self._on_readable, conn))  # selectors.EVENT_READ

    def _forget(self, conn: Any) -> None:
        self.incoming.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _refuse(self, conn: Any, status: int | None) -> None:
        self._forget(conn)
        if status is not None:
            try:
                conn.sock.send(error_response(status))  # small: fits the socket buffer, never blocks the loop
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def _on_readable(self, conn: Any, _sock: Any) -> None:
        incoming = self.incoming.get(conn)
        if incoming is None:
            return
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            return self._refuse(conn, None)
        outcome = incoming.feed(data)
        if outcome is None and incoming.wants_continue():
            incoming.without_expect()
            try:
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                return self._refuse(conn, None)
        if outcome is None:
            return
        if outcome is not True:
            self.log.warning("Invalid request from ip=%s: refused with %s", conn.client[0] if conn.client else "-",
                             outcome)
            return self._refuse(conn, int(outcome))
        self._forget(conn)
        conn.prefetched = bytes(incoming.raw)
        conn.data_ready = True  # gthread then skips its own wait for the first byte
        self.enqueue_req(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn, incoming in list(self.incoming.items()):
            if not self.alive and not incoming.raw and now - incoming.started > STOP_IDLE_S:
                self._refuse(conn, None)  # stopping: a connection that has sent nothing is not waited for long
            elif incoming.deadline <= now:
                self._refuse(conn, 408 if incoming.raw else None)
            elif self.alive:
                break  # oldest first: the rest are younger

    # -- in the request thread ---------------------------------------------------------------------------
    def handle(self, conn: Any) -> Any:
        data = getattr(conn, "prefetched", None)
        if data is not None:
            conn.prefetched = None
            conn.sock.setblocking(True)
            conn.init()
            unreader = conn.parser.unreader
            unreader.unread(unreader.take_buffered() + data)  # read-ahead first, then what came since
        return super().handle(conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's own refusals, answered with the JSON error body and security headers."""
        status = status_for(exc)
        address = (addr or ("-", -1))[0]
        where = redact(f"{req.method} {req.uri}") if hasattr(req, "uri") and hasattr(req, "method") else "request"
        if status >= 500:
            self.log.error("Error handling %s from ip=%s", where, address, exc_info=exc)
        else:
            self.log.warning("Invalid request from ip=%s: %s (%s)", address, status, exc.__class__.__name__)
        if req is not None:
            try:
                environ = default_environ(req, client, self.cfg)
                environ["REMOTE_ADDR"] = address
                resp = Response(req, client, self.cfg)
                resp.status = f"{status} -"
                self.log.access(resp, req, environ, timedelta(0))
            except Exception:
                self.log.debug("access log of a refused request failed", exc_info=True)
        try:
            client.setblocking(False)
            client.send(error_response(status))
        except Exception:
            self.log.debug("Failed to send error message.")
