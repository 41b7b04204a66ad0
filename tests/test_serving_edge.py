"""The edge of the real server (gunicorn with the service's worker and configuration, started on free ports):
slow clients, requests that are not valid HTTP, chunked bodies, the access log, and metrics across workers."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.serving.protocol import SECURITY_HEADERS
from tests.conftest import REPO
from tests.test_serving import free_port, wait_ready

pytestmark = pytest.mark.slow


class Server:
    """``python -m service serve`` on the fast fake-engine app, its output collected line by line."""

    def __init__(self, tmp: Path, env: dict[str, str] | None = None, **settings: str):
        self.port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_SECRET_KEY": "t", "ASEAN_MT_EMBEDDED_WORKER": "0",
               "ASEAN_MT_DATA_DIR": str(tmp), **{f"ASEAN_MT_{k.upper()}": v for k, v in settings.items()},
               **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(self.port), "--app", "tests.http_apps:fast_app()"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_ready(self.port, self.proc)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def raw(self, data: bytes, timeout: float = 20, then: bytes = b"") -> bytes:
        """Send bytes as they are (``then`` a moment later); the whole answer (the server closes after an
        error)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            if then:
                time.sleep(0.5)
                sock.sendall(then)
            out = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    length = re.search(rb"(?i)content-length: *(\d+)", head)
                    if length and len(rest) >= int(length.group(1)):
                        break
            return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("serve"), server_threads="4", request_read_timeout_s="8",
                 max_body_bytes="4000", request_buffer_bytes="2048")
    try:
        yield srv
    finally:
        srv.stop()


def json_error(answer: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"].startswith("application/json"), answer[:300]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name
    parsed = json.loads(body)
    assert isinstance(parsed["error"], str) and isinstance(parsed["code"], str)
    return status, headers, parsed


def test_slow_clients_cannot_starve_the_workers(server: Server) -> None:
    """40 connections sending a byte a second (headers for some, a body for others) against 4 request
    threads: /healthz still answers, and the slow clients are cut off with 408 after request_read_timeout_s."""
    slow: list[socket.socket] = []
    stop = threading.Event()

    def drip(sock: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if stop.is_set():
                return
            try:
                sock.send(data[i:i + 1])
            except OSError:
                return
            time.sleep(1.0)

    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
    for i in range(40):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        slow.append(sock)
        if i % 2:  # a complete head, then a body that never ends
            sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n")
            data = b'{"text": "' + b"a" * 80
        else:
            data = head
        threading.Thread(target=drip, args=(sock, data), daemon=True).start()
    try:
        time.sleep(2.0)  # every slow client has started
        for _ in range(5):
            with urllib.request.urlopen(server.url("/healthz"), timeout=5) as r:
                assert r.status == 200
        with urllib.request.urlopen(urllib.request.Request(
                server.url("/v1/detect"), data=json.dumps({"text": "Pertemuan tahunan"}).encode(),
                headers={"Content-Type": "application/json"}), timeout=5) as r:
            assert r.status == 200  # a real request with a body too
        # request_read_timeout_s (8 s): the slow clients are answered 408 and closed
        timed_out = 0
        for sock in slow:
            sock.settimeout(15)
            try:
                answer = sock.recv(4096)
            except OSError:
                continue
            timed_out += answer.startswith(b"HTTP/1.1 408")
        assert timed_out >= 38
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def test_requests_that_are_not_http_get_the_json_error_with_security_headers(server: Server) -> None:
    cases = [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),  # gunicorn's limit_request_line
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", 431),
        (b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
    ]
    for request, status in cases:
        got, _, body = json_error(server.raw(request))
        assert got == status, (request[:60], body)
        assert "Traceback" not in body["error"] and "<html" not in body["error"]


def _chunked(body: bytes, size: int = 500) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))


def test_chunked_bodies_malformed_or_too_large(server: Server) -> None:
    head = (b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    # broken framing at once: refused by the worker before the app
    status, _, body = json_error(server.raw(head + b"zz\r\nabc\r\n0\r\n\r\n"))
    assert status == 400
    # broken framing after request_buffer_bytes (2048): found while the app reads the body
    valid = _chunked(b'{"text": "' + b"a" * 2500)
    status, _, body = json_error(server.raw(head + valid, then=b"zz\r\nabc\r\n0\r\n\r\n"))
    assert (status, body["code"]) == (400, "malformed_body")
    # over max_body_bytes (4000) without a Content-Length: 413 naming the limit, not a JSON parse error
    big = json.dumps({"text": "a" * 5000}).encode()
    status, _, body = json_error(server.raw(head + _chunked(big) + b"0\r\n\r\n"))
    assert (status, body["code"]) == (413, "input_too_large") and body["limit"] == 4000
    fine = json.dumps({"text": "Pertemuan tahunan kota cerdas"}).encode()
    answer = server.raw(head + _chunked(fine, 7) + b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_api_keys_never_reach_the_access_log(server: Server) -> None:
    secret = "SECRET-qs-7f3a"
    for path in (f"/healthz?api_key={secret}", f"/healthz?lang=id&API_KEY={secret}&x=1"):
        with urllib.request.urlopen(server.url(path), timeout=10) as r:
            assert r.status == 200
    request = urllib.request.Request(server.url("/healthz"), headers={"X-API-Key": secret})
    urllib.request.urlopen(request, timeout=10).close()
    server.raw(f"GET /{'a' * 9000}?api_key={secret} HTTP/1.1\r\nHost: x\r\n\r\n".encode())  # refused by gunicorn
    time.sleep(0.5)
    log = "".join(server.lines)
    assert secret not in log
    assert "/healthz?api_key=[redacted]" in log and "API_KEY=[redacted]&x=1" in log


def test_metrics_cover_every_worker_and_survive_recycling(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"  # the operator's folder (by default the server makes a private one)
    srv = Server(tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, workers="2", max_requests="12",
                 server_threads="2")
    try:
        for _ in range(60):
            with urllib.request.urlopen(srv.url("/healthz"), timeout=30) as r:
                assert r.status == 200
        deadline = time.monotonic() + 60
        while True:
            with urllib.request.urlopen(srv.url("/metrics"), timeout=30) as r:
                text = r.read().decode()
            found = re.search(r'http_requests_total\{endpoint="/healthz",method="GET",status="200"\} (\S+)', text)
            # service_ready is the lowest of the live workers: 0 while a recycled worker is starting
            if (found and float(found.group(1)) == 60 and "service_ready 1.0" in text) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert found is not None and float(found.group(1)) == 60.0, text[:2000]
        booted = [line for line in srv.lines if "Booting worker" in line]
        pids = {line.rsplit(":", 1)[1].strip() for line in booted}
        assert len(pids) >= 4, booted  # workers were recycled (12 requests each) and the counts survived
        live_gauges = list(metrics_dir.glob("gauge_livemin_*.db"))
        assert len(live_gauges) <= 2  # a recycled worker's live gauge file is removed
        assert "service_ready 1.0" in text
        assert len(list(metrics_dir.glob("counter_*.db"))) >= 4  # and its counters stay counted
    finally:
        srv.stop()
