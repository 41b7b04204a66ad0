"""Real processes for the LLM tests: the llama-cpp-python OpenAI-compatible server on the packaged GGUF model,
and a plain HTTP server that misbehaves on purpose (stalls, or answers 500) for the error paths."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

#: The llama.cpp server loads the model in a few seconds here; a busy 2-core machine may take much longer.
READY_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def llama_server(gguf: Path, alias: str, n_ctx: int = 2048) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m llama_cpp.server`` on ``gguf``, served as ``alias``; yields (base URL ending in /v1, process)."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--chat_format", "gemma",
           "--n_threads", "2", "--seed", "0"]
    log = tempfile.TemporaryFile(mode="w+")  # llama.cpp logs a lot: a pipe nobody reads would block it
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    try:
        base = f"http://127.0.0.1:{port}/v1"
        try:
            wait_ready(f"{base}/models", proc)
        except (RuntimeError, TimeoutError) as exc:
            log.seek(0)
            raise RuntimeError(f"{exc}; server log tail: {log.read()[-2000:]}") from exc
        yield base, proc
    finally:
        stop(proc)
        log.close()


MISBEHAVING = r'''
import http.server, sys, time
mode = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = b'{"object": "list", "data": [{"id": "stub", "object": "model"}]}'
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        if mode == "stall":
            time.sleep(60)
        self.send_response(500); self.send_header("Content-Type", "application/json")
        body = b'{"error": {"message": "internal boom with secret details"}}'
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


@contextlib.contextmanager
def misbehaving_server(mode: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real HTTP server that lists one model and then stalls ("stall") or answers 500 ("error")."""
    proc = subprocess.Popen([sys.executable, "-c", MISBEHAVING, mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1", proc
    finally:
        stop(proc)
