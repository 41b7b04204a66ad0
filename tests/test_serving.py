"""The real server: gunicorn started by the test on a free port, used by the real LibreTranslate client,
and shut down with SIGTERM while a request is in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError("server not ready in time")


def start(port: int, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), *extra], cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_SECRET_KEY": "test", "ASEAN_MT_EMBEDDED_WORKER": "0",
             **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server(models_dir: Path, catalog_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    proc = start(port, {"ASEAN_MT_MODELS_DIR": str(models_dir), "ASEAN_MT_CATALOG_PATH": str(catalog_path),
                        "ASEAN_MT_PRELOAD": "id-ms,id-en", "ASEAN_MT_DATA_DIR": str(tmp_path_factory.mktemp("d"))})
    try:
        wait_ready(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


def test_libretranslate_client_works_unchanged(server: str) -> None:
    from libretranslatepy import LibreTranslateAPI

    lt = LibreTranslateAPI(server)
    assert lt.translate("Pertemuan tahunan di Kualalumpur", "id", "ms") == "Mesyuarat tahunan di Kuala Lumpur"
    languages = {lang["code"]: lang for lang in lt.languages()}
    assert "ms" in languages["id"]["targets"] and languages["th"]["name"] == "Thai"
    detected = lt.detect("Kementerian Dalam Negeri berencana menyelenggarakan kegiatan untuk kota-kota cerdas.")
    assert detected[0]["language"] == "id"


def test_libretranslate_client_sees_a_suggestion_and_alternatives_on_the_real_server(server: str) -> None:
    from libretranslatepy import LibreTranslateAPI

    sentence, fixed = "Rapat koordinasi dimulai pukul sembilan pagi.", "Mesyuarat penyelarasan bermula jam sembilan."
    lt = LibreTranslateAPI(server)
    assert lt.translate(sentence, "id", "ms") != fixed
    form = urllib.parse.urlencode({"q": sentence, "s": fixed, "source": "id", "target": "ms"}).encode()
    with urllib.request.urlopen(urllib.request.Request(server + "suggest", data=form), timeout=30) as r:
        assert json.loads(r.read()) == {"success": True, "status": "approved"}  # no keys required: in use
    assert lt.translate(sentence, "id", "ms") == fixed  # LibreTranslate's client, unchanged
    request = urllib.request.Request(server + "translate", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"q": "Pertemuan tahunan.", "source": "id",
                                                              "target": "en", "alternatives": 2}).encode())
    with urllib.request.urlopen(request, timeout=30) as r:
        body = json.loads(r.read())
    assert isinstance(body["alternatives"], list) and body["translatedText"] not in body["alternatives"]


def test_served_api_answers(server: str) -> None:
    request = urllib.request.Request(server + "v1/translate", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"text": "Bali", "source": "id",
                                                              "targets": ["ms", "en"]}).encode())
    with urllib.request.urlopen(request, timeout=30) as r:
        body = json.loads(r.read())
    assert [t["engine"] for t in body["items"][0]["translations"]] == ["apertium", "ctranslate2"]
    with urllib.request.urlopen(server + "metrics", timeout=5) as r:
        assert b"service_ready 1.0" in r.read()


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    port = free_port()
    proc = start(port, {"ASEAN_MT_DATA_DIR": str(tmp_path)}, "--app", "tests.http_apps:slow_app()")
    try:
        wait_ready(port, proc)
        outcome: dict[str, object] = {}

        def call() -> None:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/translate", method="POST", headers={"Content-Type": "application/json"},
                data=json.dumps({"text": "abc", "source": "id", "targets": ["en"], "glossary": []}).encode())
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    outcome["status"], outcome["body"] = r.status, json.loads(r.read())
            except Exception as exc:  # the assertion below reports it
                outcome["error"] = repr(exc)

        thread = threading.Thread(target=call)
        thread.start()
        time.sleep(1.0)  # the request is now inside the 3-second engine call
        proc.send_signal(signal.SIGTERM)
        thread.join(30)
        assert outcome.get("status") == 200, outcome
        assert outcome["body"]["items"][0]["translations"][0]["text"] == "cba"
        assert proc.wait(30) == 0
    finally:
        stop(proc)
