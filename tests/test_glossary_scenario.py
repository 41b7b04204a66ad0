"""End to end, minutes long (``python -m pytest -m scenario tests/test_glossary_scenario.py``): a 100,000-entry TBX
file uploaded over the API to one real server is used by the next request on every worker of two servers that
share the database, and an edit made over the API changes the next translation everywhere."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import requests

from service.keys import add_key
from service.terminology import formats
from service.terminology.glossary import Entry, Glossary
from tests.test_serving import free_port, start, stop, wait_ready

pytestmark = pytest.mark.scenario
WORDS = ["kota", "cerdas", "desa", "dinas", "badan", "pusat", "layanan", "data", "jalan", "rumah", "sakit", "umum",
         "pasar", "raya", "baru", "lama", "barat", "timur", "utara", "selatan", "tengah", "atas", "bawah", "air"]


def big_tbx(size: int) -> bytes:
    rng = random.Random(5)
    seen: set[str] = set()
    entries = [Entry({"id": ("Pusat Data Nasional",), "en": ("National Data Centre",), "ms": ("Pusat Data Negara",)})]
    while len(entries) < size:
        term = " ".join(rng.choice(WORDS) + rng.choice(("", "an", "kan", "nya")) for _ in range(rng.randint(2, 4)))
        if term not in seen and term != "pusat data nasional":
            seen.add(term)
            entries.append(Entry({"id": (term,), "en": (term.upper(),), "ms": (term + " ms",)}))
    return formats.export_tbx(Glossary("national", tuple(entries)))


def translate(port: int, key: str) -> dict:
    r = requests.post(f"http://127.0.0.1:{port}/v1/translate", headers={"Authorization": f"Bearer {key}",
                                                                         "Connection": "close"},
                      json={"text": "Pusat Data Nasional dibuka.", "source": "id", "targets": ["en"],
                            "glossary": ["national"]}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()["items"][0]["translations"][0]


def test_a_national_tbx_is_used_by_every_worker_and_an_edit_reaches_them(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    admin, _ = add_key(keys_file, "editor", "admin")
    env = {"ASEAN_MT_DATA_DIR": str(tmp_path / "data"), "ASEAN_MT_API_KEYS_FILE": str(keys_file),
           "ASEAN_MT_GLOSSARY_REFRESH_S": "1", "ASEAN_MT_MAX_BODY_BYTES": "1048576"}
    ports = [free_port(), free_port()]
    servers = [start(port, env, "--workers", "2", "--app", "tests.http_apps:fast_app()") for port in ports]
    try:
        for port, proc in zip(ports, servers, strict=True):
            wait_ready(port, proc)
        data = big_tbx(100_000)
        started = time.monotonic()
        made = requests.post(f"http://127.0.0.1:{ports[0]}/v1/glossaries",
                             headers={"Authorization": f"Bearer {admin}"},
                             files={"file": ("national.tbx", data, "application/x-tbx+xml")},
                             data={"description": "100,000 entries"}, timeout=300)
        assert made.status_code == 201, made.text
        assert made.json()["entries"] == 100_000
        print(f"upload of {len(data) / 2**20:.0f} MiB: {time.monotonic() - started:.1f} s")
        for port in ports:  # the next requests, on every worker of both servers
            for _ in range(6):
                done = translate(port, admin)
                assert done["text"] == "National Data Centre DIBUKA.", done
                assert done["glossary"]["versions"] == {"national": "1"}
        edited = requests.patch(f"http://127.0.0.1:{ports[1]}/v1/glossaries/national/entries/1",
                                headers={"Authorization": f"Bearer {admin}"},
                                json={"forms": {"id": ["Pusat Data Nasional"], "en": ["National Data Center"]}},
                                timeout=60)
        assert edited.status_code == 200 and edited.json()["version"] == "2"
        time.sleep(1.5)  # glossary_refresh_s
        for port in ports:
            for _ in range(6):
                assert translate(port, admin)["text"] == "National Data Center DIBUKA."
    finally:
        for proc in servers:
            stop(proc)
