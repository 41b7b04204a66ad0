"""The HTTP API in-process (Flask test client): every endpoint, and a bad-input matrix that must never 5xx."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import Settings
from service.engines.router import EngineRouter
from service.http import create_app
from service.http.security import hash_key
from service.pipeline import Pipeline
from tests.fakes import FixedRouter, RecordingEngine

SENTENCE = "Kementerian Dalam Negeri hadir di Kualalumpur."


@pytest.fixture(scope="module")
def http_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings.replace(secret_key="test-secret", max_text_chars=5000, max_texts=4, max_targets=3,
                            max_total_chars=8000, max_body_bytes=40_000)


@pytest.fixture(scope="module")
def app(http_settings: Settings, router: EngineRouter) -> Flask:
    return create_app(http_settings, Pipeline(http_settings, router), warm="none")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["code"], str)
    if code:
        assert body["code"] == code
    return body


def test_translate_multi_target_and_list_input(client: FlaskClient) -> None:
    r = client.post("/v1/translate", json={"text": [SENTENCE, "Pertemuan tahunan ASCN."], "source": "id",
                                           "targets": ["ms", "en", "tha_Thai"]})
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert len(items) == 2
    first = {t["target"]: t for t in items[0]["translations"]}
    assert list(first) == ["ms", "en", "th"]
    assert first["ms"]["text"] == "Kementerian Dalam Negeri hadir di Kuala Lumpur."
    assert (first["ms"]["engine"], first["ms"]["model"]) == ("apertium", "ind-zlm")
    assert first["ms"]["glossary"]["compliance"] == 1.0 and first["ms"]["error"] is None
    assert (first["en"]["engine"], first["th"]["model"]) == ("ctranslate2", "tiny/nllb")
    assert items[1]["translations"][0]["text"] == "Mesyuarat Tahunan ASCN."


def test_translate_options_summary_alternatives_and_detection(client: FlaskClient, seed_text: str) -> None:
    r = client.post("/v1/translate", json={"text": seed_text, "targets": ["ms"], "glossary": [],
                                           "summary": {"sentences": 1}})
    item = r.get_json()["items"][0]
    assert (item["source"], item["detected"]) == ("id", True)
    assert item["summary"]["text"].startswith("Indonesia kembali dipilih")
    ms = item["translations"][0]
    assert ms["summary"]["mode"] == "translate"
    report = ms["glossary"]  # no glossary, but the protected spans are still reported
    assert (report["glossaries"], report["terms_found"], report["spans_found"]) == ([], 0, 1)
    assert report["spans"][0] == {"kind": "date", "source": "9-11", "start": 258, "end": 262, "required": "9-11",
                                  "present": True, "method": "protected"}
    alt = client.post("/v1/translate", json={"text": "Bali.", "source": "id", "targets": ["en"], "beam_size": 3,
                                             "alternatives": 2}).get_json()
    assert len(alt["items"][0]["translations"][0]["alternatives"][0]["alternatives"]) == 2


def test_detect_languages_glossaries_summarize(client: FlaskClient, seed_text: str) -> None:
    assert client.post("/v1/detect", json={"text": "ประเทศอินโดนีเซีย"}).get_json()["language"] == "th"
    langs = client.get("/v1/languages").get_json()
    assert len(langs["languages"]) == 9
    pair = next(p for p in langs["pairs"] if (p["source"], p["target"]) == ("id", "ms"))
    assert pair == {"source": "id", "target": "ms", "available": True, "engine": "apertium", "model": "ind-zlm",
                    "license": "gpl-3.0", "needs": None}
    assert langs["license_policy"] == "permissive"
    glossaries = client.get("/v1/glossaries").get_json()["glossaries"]
    assert glossaries[0]["name"] == "asean-smart-cities" and glossaries[0]["entries"] >= 40
    one = client.get("/v1/glossaries/asean-smart-cities").get_json()
    assert one["entries"][0]["forms"]["en"][0] == "ASEAN Smart Cities Network"
    assert_error(client.get("/v1/glossaries/nope"), 404, "glossary_not_found")
    summary = client.post("/v1/summarize", json={"text": seed_text, "sentences": 2, "style": "bullets"}).get_json()
    assert summary["language"] == "id" and summary["text"].startswith("- Indonesia kembali")


SAYA = "Saya pergi ke pasar untuk membeli ikan."


def test_detection_fields_layout_and_the_issue_sentence(client: FlaskClient) -> None:
    found = client.post("/v1/detect", json={"text": SAYA}).get_json()
    assert found["language"] == "uncertain" and found["uncertain"] is True
    assert [c["language"] for c in found["candidates"]] in (["ms", "id"], ["id", "ms"])
    clear = client.post("/v1/detect", json={"text": "Kementerian Dalam Negeri berencana menyelenggarakan "
                                                    "kegiatan untuk kota-kota cerdas."}).get_json()
    assert (clear["language"], clear["name"], clear["uncertain"]) == ("id", "Indonesian", False)
    assert clear["confidence"] >= 0.9
    item = client.post("/v1/translate", json={"text": SAYA, "targets": ["ms"]}).get_json()["items"][0]
    assert (item["source"], item["detected"]) == ("id", True)
    assert item["detection"]["uncertain"] and item["detection"]["used"] == "id" and item["detection"]["by"] == "target"
    assert item["translations"][0]["text"] == SAYA and item["translations"][0]["error"] is None
    wrapped = "Dalam pertemuan tahunan tersebut, delegasi Indonesia dipimpin oleh\nDirektur Kawasan Perkotaan."
    flowed = client.post("/v1/translate", json={"text": wrapped, "source": "id", "targets": ["ms"]}).get_json()
    kept = client.post("/v1/translate", json={"text": wrapped, "source": "id", "targets": ["ms"],
                                              "layout": "keep"}).get_json()
    assert "\n" not in flowed["items"][0]["translations"][0]["text"]
    assert "\n" in kept["items"][0]["translations"][0]["text"] and kept["items"][0]["detection"] is None


def test_health_readiness_metrics_openapi_docs(client: FlaskClient, http_settings: Settings, router) -> None:
    assert client.get("/healthz").get_json() == {"status": "alive"}
    assert client.get("/readyz").status_code == 200
    client.post("/v1/translate", json={"text": SENTENCE, "source": "id", "targets": ["ms"]})
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/v1/translate",method="POST",status="200"}' in metrics
    assert 'translation_segments_total{engine="apertium",target="ms"}' in metrics
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.") and "/v1/translate" in doc["paths"]
    assert doc["components"]["schemas"]["TranslateBody"]["properties"]["beam_size"]
    assert client.get("/docs").status_code == 200


def test_readyz_is_503_until_the_engines_are_loaded(http_settings: Settings, router) -> None:
    release = threading.Event()
    app = create_app(http_settings, Pipeline(http_settings, router), warm="thread",
                     warmup_hook=lambda state: release.wait(10))
    c = app.test_client()
    assert_error(c.get("/readyz"), 503, "not_ready")
    assert c.get("/healthz").status_code == 200  # alive all the same
    release.set()
    app.extensions["asean_mt"].ready.wait(5)
    assert c.get("/readyz").status_code == 200


def test_model_missing_is_503_with_the_pull_command(http_settings: Settings, tmp_path: Path) -> None:
    s = http_settings.replace(models_dir=tmp_path)
    c = create_app(s, Pipeline(s, EngineRouter(s)), warm="none").test_client()
    body = assert_error(c.post("/v1/translate", json={"text": "Bali", "source": "id", "targets": ["en"]}), 503,
                        "model_missing")
    assert body["command"] == "python -m service models pull tiny/marian-id-en"
    partial = c.post("/v1/translate", json={"text": "Bali", "source": "id", "targets": ["ms", "en"]}).get_json()
    assert [t["error"] is None for t in partial["items"][0]["translations"]] == [True, False]


def test_unsupported_pair_lists_the_supported_ones(http_settings: Settings, router, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."ind-zlm"]\nfamily = "apertium"\npairs = ["id-ms"]\n'
                       '[routes]\n"id-ms" = ["apertium:ind-zlm"]\n')
    s = http_settings.replace(catalog_path=catalog)
    c = create_app(s, Pipeline(s, EngineRouter(s)), warm="none").test_client()
    body = assert_error(c.post("/v1/translate", json={"text": "Bali", "source": "id", "targets": ["th"]}), 400,
                        "unsupported_pair")
    assert body["supported"] == ["id-ms"]


BAD_INPUTS = [
    ("not json", {"data": "{bad", "content_type": "application/json"}, 400, "invalid_json"),
    ("wrong content type", {"data": "text=hi", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ("invalid utf-8", {"data": b'{"text": "\xff\xfe", "targets": ["ms"]}', "content_type": "application/json"}, 400,
     "invalid_utf8"),
    ("NaN", {"data": '{"text": "a", "targets": ["ms"], "beam_size": NaN}', "content_type": "application/json"},
     400, "invalid_json"),
    ("Infinity", {"data": '{"text": "a", "targets": ["ms"], "beam_size": Infinity}',
                  "content_type": "application/json"}, 400, "invalid_json"),
    ("1e309", {"data": '{"text": "a", "targets": ["ms"], "beam_size": 1e309}', "content_type": "application/json"},
     400, "invalid_json"),
    ("deep nesting", {"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, 413, None),
    ("nesting past the limit", {"data": '{"text": "a", "targets": ["ms"], "x": ' + "[" * 40 + "]" * 40 + "}",
                                "content_type": "application/json"}, 400, "invalid_json"),
    ("lone surrogate", {"data": '{"text": "a\\ud800b", "targets": ["ms"]}', "content_type": "application/json"},
     422, "validation_error"),
    ("NUL", {"data": '{"text": "a\\u0000b", "targets": ["ms"]}', "content_type": "application/json"}, 422,
     "validation_error"),
    ("beam_size string", {"json": {"text": "a", "targets": ["ms"], "beam_size": "abc"}}, 422, "validation_error"),
    ("beam_size bool", {"json": {"text": "a", "targets": ["ms"], "beam_size": True}}, 422, "validation_error"),
    ("beam_size float", {"json": {"text": "a", "targets": ["ms"], "beam_size": 2.5}}, 422, "validation_error"),
    ("beam_size 0", {"json": {"text": "a", "targets": ["ms"], "beam_size": 0}}, 422, "validation_error"),
    ("alternatives > beam", {"json": {"text": "a", "targets": ["ms"], "beam_size": 2, "alternatives": 3}}, 422,
     "validation_error"),
    ("text number", {"json": {"text": 5, "targets": ["ms"]}}, 422, "validation_error"),
    ("text null", {"json": {"text": None, "targets": ["ms"]}}, 422, "validation_error"),
    ("body is a list", {"json": [1, 2]}, 422, "validation_error"),
    ("no targets", {"json": {"text": "a", "targets": []}}, 422, "validation_error"),
    ("unknown field", {"json": {"text": "a", "targets": ["ms"], "colour": "red"}}, 422, "validation_error"),
    ("unknown language", {"json": {"text": "a", "targets": ["xx"]}}, 400, "unsupported_language"),
    ("bad source", {"json": {"text": "a", "source": "klingon", "targets": ["ms"]}}, 400, "unsupported_language"),
    ("unknown glossary", {"json": {"text": "a", "source": "id", "targets": ["ms"], "glossary": ["nope"]}}, 400,
     "glossary_not_found"),
    ("bad summary", {"json": {"text": "a", "targets": ["ms"], "summary": {"ratio": 2}}}, 422, "validation_error"),
    ("two summary lengths", {"json": {"text": "a", "targets": ["ms"], "summary": {"sentences": 2, "words": 5}}},
     400, "invalid_input"),
    ("text over the limit", {"json": {"text": "a" * 5001, "targets": ["ms"]}}, 413, "input_too_large"),
    ("too many texts", {"json": {"text": ["a"] * 5, "targets": ["ms"]}}, 413, "input_too_large"),
    ("too many targets", {"json": {"text": "a", "targets": ["ms", "en", "th", "vi"]}}, 413, "input_too_large"),
    ("too many characters", {"json": {"text": ["a" * 2500] * 4, "targets": ["ms"]}}, 413, "input_too_large"),
    ("body over the limit", {"data": json.dumps({"text": "a" * 50_000, "targets": ["ms"]}),
                             "content_type": "application/json"}, 413, None),
    ("detection impossible", {"json": {"text": "12345 !!!", "targets": ["ms"]}}, 400, "detection_failed"),
    ("same language", {"json": {"text": "Bali", "source": "ms", "targets": ["ms"]}}, 400, "unsupported_pair"),
    ("empty text", {"json": {"text": "", "targets": ["ms"]}}, 400, "empty_text"),
    ("whitespace text", {"json": {"text": " \n\t", "source": "id", "targets": ["ms"]}}, 400, "empty_text"),
    ("bad layout", {"json": {"text": "a", "targets": ["ms"], "layout": "wrap"}}, 422, "validation_error"),
]


@pytest.mark.parametrize(("name", "request_kwargs", "status", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_matrix(client: FlaskClient, name: str, request_kwargs: dict, status: int,
                          code: str | None) -> None:
    assert_error(client.post("/v1/translate", **request_kwargs), status, code)


def test_limits_are_inclusive(client: FlaskClient) -> None:
    ok = client.post("/v1/translate", json={"text": "Bali. " * 833 + "ab", "source": "id", "targets": ["ms"]})
    assert ok.status_code == 200, ok.get_json()  # 5000 characters: exactly max_text_chars
    at_limit = {"text": ["a" * 2000] * 4, "source": "id", "targets": ["ms"]}  # 8000: exactly max_total_chars
    assert client.post("/v1/translate", json=at_limit).status_code == 200


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("post", "/v1/detect", {"json": {"text": ""}}, 422),
    ("post", "/v1/detect", {"json": {"text": "  \n "}}, 400),
    ("post", "/v1/summarize", {"json": {"text": " \t "}}, 400),
    ("post", "/v1/detect", {"json": {"text": 3}}, 422),
    ("post", "/v1/summarize", {"json": {"text": "a", "sentences": "3"}}, 422),
    ("post", "/v1/summarize", {"json": {"text": "a", "language": "zz"}}, 400),
    ("get", "/v1/translate", {}, 405),
    ("put", "/v1/languages", {}, 405),
    ("get", "/no/such/page", {}, 404),
    ("post", "/translate", {"data": {"source": "id", "target": "ms"}}, 422),
    ("post", "/translate", {"data": {"q": "a", "source": "id", "target": "xx"}}, 400),
    ("post", "/translate", {"data": {"q": "a", "target": "ms", "format": "xml"}}, 400),
    ("post", "/translate", {"data": "x", "content_type": "text/plain"}, 415),
])
def test_other_endpoints_refuse_bad_input_with_json(client: FlaskClient, method: str, path: str, kwargs: dict,
                                                    status: int) -> None:
    assert_error(getattr(client, method)(path, **kwargs), status)


def test_exception_text_never_leaks(http_settings: Settings) -> None:
    class Broken(RecordingEngine):
        def translate(self, *args, **kwargs):
            raise RuntimeError("secret internal detail /etc/passwd")

    c = create_app(http_settings, Pipeline(http_settings, FixedRouter(Broken())), warm="none").test_client()
    r = c.post("/v1/translate", json={"text": "Bali", "source": "id", "targets": ["ms"]})
    body = assert_error(r, 500, "internal_error")
    assert "secret" not in r.get_data(as_text=True) and "Traceback" not in body["error"]


def test_libretranslate_compatible_endpoints(client: FlaskClient) -> None:
    form = client.post("/translate", data={"q": "Pertemuan tahunan", "source": "id", "target": "ms"})
    assert form.get_json() == {"translatedText": "Mesyuarat tahunan"}
    as_json = client.post("/translate", json={"q": ["Pertemuan tahunan", "Kementerian"], "source": "id",
                                              "target": "ms", "api_key": ""})
    assert as_json.get_json()["translatedText"] == ["Mesyuarat tahunan", "Kementerian"]
    auto = client.post("/translate", json={"q": "Kementerian Dalam Negeri berencana menyelenggarakan kegiatan.",
                                           "source": "auto", "target": "ms"}).get_json()
    assert auto["detectedLanguage"]["language"] == "id"
    languages = client.get("/languages").get_json()
    assert {"code": "id", "name": "Indonesian"}.items() <= languages[0].items() and "ms" in languages[0]["targets"]
    detected = client.post("/detect", data={"q": "Kementerian Dalam Negeri berencana menyelenggarakan kegiatan"})
    assert detected.get_json()[0]["language"] == "id"
    missing = client.post("/translate", data={"q": "x"})
    assert isinstance(missing.get_json()["error"], str)  # LibreTranslate's error shape


def test_api_keys(http_settings: Settings, router, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# clients\n{hash_key('s3cret-key')} newsroom\n")
    s = http_settings.replace(api_keys_file=str(keys), require_api_key=True)
    c = create_app(s, Pipeline(s, router), warm="none").test_client()
    body = {"text": "Bali", "source": "id", "targets": ["ms"]}
    assert_error(c.post("/v1/translate", json=body), 401, "api_key_required")
    assert_error(c.post("/v1/translate", json=body, headers={"Authorization": "Bearer wrong"}), 401,
                 "invalid_api_key")
    assert c.post("/v1/translate", json=body, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
    assert c.post("/v1/translate", json=body, headers={"X-API-Key": "s3cret-key"}).status_code == 200
    lt = c.post("/translate", data={"q": "Bali", "source": "id", "target": "ms", "api_key": "s3cret-key"})
    assert lt.status_code == 200
    assert c.get("/healthz").status_code == 200  # health needs no key


def test_rate_limit_in_characters_with_retry_after(http_settings: Settings, router) -> None:
    s = http_settings.replace(rate_limit="100/minute")
    c = create_app(s, Pipeline(s, router), warm="none").test_client()
    body = {"text": "x" * 60, "source": "id", "targets": ["ms"]}
    assert c.post("/v1/translate", json=body).status_code == 200
    limited = c.post("/v1/translate", json=body)
    error = assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1 and error["retry_after"] >= 1
    assert_error(c.post("/v1/translate", json={**body, "text": "x" * 101}), 413, "input_too_large")


def test_rate_limit_shared_through_redis(http_settings: Settings, router) -> None:
    import uuid

    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    s = http_settings.replace(rate_limit="100/minute", redis_url="redis://127.0.0.1:6379/0")
    # two apps = two workers; a fresh client address keeps runs apart
    apps = [create_app(s, Pipeline(s, router), warm="none") for _ in range(2)]
    address = f"10.{uuid.uuid4().int % 250}.0.1"
    body = {"text": "x" * 60, "source": "id", "targets": ["ms"]}
    first = apps[0].test_client().post("/v1/translate", json=body, environ_base={"REMOTE_ADDR": address})
    second = apps[1].test_client().post("/v1/translate", json=body, environ_base={"REMOTE_ADDR": address})
    assert (first.status_code, second.status_code) == (200, 429)


def test_security_headers_and_csrf(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/v1/languages").headers["X-Content-Type-Options"] == "nosniff"
    refused = client.post("/", data={"text": "Bali", "targets": ["ms"], "source": "id"})
    assert_error(refused, 400, "csrf_failed")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    ok = client.post("/", data={"text": "<b>Bali</b> & Kualalumpur", "targets": ["ms"], "source": "id",
                                "glossary": "asean-smart-cities", "csrf_token": token})
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "&lt;b&gt;" in html and "<b>Bali" not in html
    assert re.search(r'<mark class="term"[^>]*>Kuala Lumpur</mark>', html)


def test_web_form_shows_limits_and_errors_inline(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "up to 5,000 characters" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    too_long = client.post("/", data={"text": "a" * 5001, "targets": ["ms"], "csrf_token": token})
    assert too_long.status_code == 413 and 'class="error"' in too_long.get_data(as_text=True)
    no_target = client.post("/", data={"text": "Bali", "csrf_token": token})
    assert no_target.status_code == 400 and "Choose at least one target language" in no_target.get_data(as_text=True)


def test_one_bad_text_in_a_list_is_that_items_error(client: FlaskClient) -> None:
    text = "Kementerian Dalam Negeri berencana menyelenggarakan kegiatan untuk kota-kota cerdas."
    r = client.post("/v1/translate", json={"text": [text, "x" * 5001, "12345 !!!"], "targets": ["ms", "en"]})
    assert r.status_code == 200, r.get_json()
    good, too_long, undetectable = r.get_json()["items"]
    assert good["error"] is None and good["source"] == "id"
    assert [t["engine"] for t in good["translations"]] == ["apertium", "ctranslate2"]
    assert too_long["error"]["code"] == "input_too_large" and too_long["error"]["setting"] == "max_text_chars"
    assert [t["error"]["code"] for t in too_long["translations"]] == ["input_too_large"] * 2
    assert undetectable["error"]["code"] == "detection_failed" and undetectable["translations"][1]["text"] is None
    alone = client.post("/v1/translate", json={"text": "x" * 5001, "source": "id", "targets": ["ms"]})
    assert_error(alone, 413, "input_too_large")  # nothing worked: the text's error is the answer
