"""The rest of LibreTranslate's API: alternatives from the engines that give n-best lists (and none from those that
do not), format=html, per-key char_limit and req_limit as LibreTranslate's keys have, and its api_key origin rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from service.config import Settings
from service.engines.router import EngineRouter
from service.errors import ConfigError
from service.http import create_app
from service.http.compat import whole_alternatives
from service.keys import add_key, read_keys
from service.pipeline import Pipeline
from tests.fakes import FixedRouter, RecordingEngine


@pytest.fixture
def app(settings: Settings, router: EngineRouter, tmp_path: Path) -> Flask:
    s = settings.replace(data_dir=tmp_path, secret_key="lt", default_glossaries="")
    return create_app(s, Pipeline(s, router), warm="none")


def test_alternatives_from_an_n_best_engine_and_none_from_apertium(app: Flask) -> None:
    client = app.test_client()
    one = client.post("/translate", json={"q": "Pertemuan tahunan kota cerdas.", "source": "id", "target": "en",
                                          "alternatives": 2}).get_json()
    assert isinstance(one["translatedText"], str) and 1 <= len(one["alternatives"]) <= 2
    assert all(isinstance(a, str) and a != one["translatedText"] for a in one["alternatives"])
    many = client.post("/translate", data={"q": ["Pertemuan tahunan. Kota cerdas hadir.", "Rapat dimulai."],
                                           "source": "id", "target": "en", "alternatives": "1"}).get_json()
    assert len(many["alternatives"]) == 2 and all(len(a) == 1 for a in many["alternatives"])
    apertium = client.post("/translate", json={"q": "Saya tidak bisa datang karena uang saya habis.",
                                               "source": "id", "target": "ms", "alternatives": 3}).get_json()
    assert apertium["alternatives"] == [] and "wang" in apertium["translatedText"]  # rule-based: one output
    plain = client.post("/translate", json={"q": "Rapat.", "source": "id", "target": "en"}).get_json()
    assert "alternatives" not in plain


def test_whole_text_alternatives_put_each_sentences_hypothesis_in_place() -> None:
    text = "A one. B one."
    per = {"a": ["A one.", "A two.", "A three."], "b": ["B one.", "B two."]}
    assert whole_alternatives(text, per, 3) == ["A two. B two.", "A three. B one."]
    assert whole_alternatives(text, {"a": ["A one."]}, 2) == []


def test_format_html_keeps_the_tags(app: Flask) -> None:
    r = app.test_client().post("/translate", json={"q": "<p>Saya tidak <b>bisa</b> datang.</p>", "source": "id",
                                                   "target": "ms", "format": "html"}).get_json()
    assert r["translatedText"].startswith("<p>") and "<b>" in r["translatedText"]


def keyed(tmp_path: Path, **changes) -> tuple[Flask, dict[str, str]]:
    path = tmp_path / "keys"
    keys = {"small": add_key(path, "small", "user", "", char_limit=12)[0],
            "slow": add_key(path, "slow", "user", "", req_limit=2)[0]}
    s = Settings(data_dir=tmp_path, secret_key="lt", api_keys_file=str(path), require_api_key=True,
                 default_glossaries="", **changes)
    return create_app(s, Pipeline(s, FixedRouter(RecordingEngine())), warm="none"), keys


def test_keys_with_libretranslates_char_limit_and_req_limit(tmp_path: Path) -> None:
    app, keys = keyed(tmp_path)
    client = app.test_client()
    assert [(r.name, r.char_limit, r.req_limit) for r in read_keys(tmp_path / "keys")] == [("small", 12, 0),
                                                                                            ("slow", 0, 2)]
    ok = client.post("/translate", json={"q": "Rapat pagi.", "source": "id", "target": "ms", "api_key": keys["small"]})
    assert ok.status_code == 200
    big = client.post("/translate", json={"q": "Rapat pagi ini.", "source": "id", "target": "ms",
                                          "api_key": keys["small"]})
    assert big.status_code == 413 and "char_limit" in big.get_json()["error"]
    sent = [client.post("/translate", data={"q": "Rapat.", "source": "id", "target": "ms", "api_key": keys["slow"]})
            for _ in range(3)]
    assert [r.status_code for r in sent] == [200, 200, 429] and "req_limit" in sent[2].get_json()["error"]
    assert sent[2].headers["Retry-After"]


def test_the_api_key_origin_rule(tmp_path: Path) -> None:
    app, _ = keyed(tmp_path, api_key_origin=r"https://front\.example\.gov$")
    client = app.test_client()
    body = {"q": "Rapat.", "source": "id", "target": "ms"}
    front = {"Origin": "https://front.example.gov", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/translate", data=body, headers=front).status_code == 200
    assert client.post("/translate", json=body, headers={"Origin": "https://front.example.gov"}).status_code == 200
    assert client.post("/translate", json=body, headers={"Origin": "https://front.example.gov.evil"}
                       ).status_code == 401
    assert client.post("/translate", json=body).status_code == 401
    other = client.post("/translate", data=body, headers={"Origin": "https://evil.example", "Sec-Fetch-Site":
                                                          "cross-site"})
    assert other.status_code == 403 and other.get_json()["code"] == "cross_site_request"
    # only LibreTranslate's routes follow the rule: the /v1 API still needs a key
    assert client.post("/v1/translate", json={"text": "Rapat.", "source": "id", "targets": ["ms"]},
                       headers={"Origin": "https://front.example.gov"}).status_code == 401
    with pytest.raises(ConfigError, match="api_key_origin"):
        keyed(tmp_path / "x", api_key_origin="(")


def test_keys_command_writes_libretranslates_limits(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    path = tmp_path / "keys"
    done = subprocess.run([sys.executable, "-m", "service", "keys", "new", "--name", "lt", "--char-limit", "5000",
                           "--req-limit", "60", "--file", str(path)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "ASEAN_MT_DATA_DIR": str(tmp_path)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [(r.name, r.char_limit, r.req_limit) for r in read_keys(path)] == [("lt", 5000, 60)]
    listed = subprocess.run([sys.executable, "-m", "service", "keys", "list", "--file", str(path)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert "char_limit=5000" in listed.stdout and "req_limit=60" in listed.stdout
