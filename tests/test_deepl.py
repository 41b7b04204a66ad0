"""DeepL API v2: DeepL's official Python client (the ``deepl`` package) pointed at a real server thread translates,
lists languages, reads usage, manages a glossary and translates a document; raw requests check DeepL's shapes,
status codes and what is refused as not supported."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from service.config import Settings
from service.engines.router import EngineRouter
from service.http import create_app
from service.keys import add_key
from service.pipeline import Pipeline, TranslationRequest
from tests.fakes import FixedRouter, RecordingEngine
from tests.test_jobs import inline_service

deepl = pytest.importorskip("deepl")
SOURCE = "Saya tidak bisa datang ke pasar karena uang saya habis."


@pytest.fixture
def keyed(settings: Settings, router: EngineRouter, tmp_path: Path) -> tuple[Flask, dict[str, str], Pipeline]:
    path = tmp_path / "keys"
    keys = {"alice": add_key(path, "alice", "user", "100000/day")[0], "root": add_key(path, "root", "admin")[0]}
    s = settings.replace(data_dir=tmp_path, secret_key="deepl", api_keys_file=str(path), require_api_key=True,
                         api_keys_reload_s=0.0, default_glossaries="")
    pipeline = Pipeline(s, router)
    return create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path)), keys, pipeline


@pytest.fixture
def server(keyed) -> Iterator[str]:
    app = keyed[0]
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


def test_the_official_client_translates_lists_languages_and_reads_usage(server: str, keyed) -> None:
    _, keys, pipeline = keyed
    translator = deepl.Translator(keys["alice"], server_url=server)
    expected = pipeline.translate(TranslationRequest(SOURCE, ["ms"], "id")).results[0].text
    one = translator.translate_text(SOURCE, source_lang="ID", target_lang="MS")
    assert (one.text, one.detected_source_lang, one.billed_characters) == (expected, "ID", len(SOURCE))
    assert one.text != SOURCE  # Apertium's real Malay
    two = translator.translate_text([SOURCE, "Kementerian Dalam Negeri membuka rapat."], target_lang="MS")
    assert [r.detected_source_lang for r in two] == ["ID", "ID"] and two[0].text == expected
    sources = {lang.code for lang in translator.get_source_languages()}
    targets = {lang.code for lang in translator.get_target_languages()}
    assert {"ID", "EN"} <= sources and {"MS", "EN-GB", "EN-US"} <= targets
    usage = translator.get_usage()
    used = 2 * len(SOURCE) + len("Kementerian Dalam Negeri membuka rapat.")
    assert (usage.character.count, usage.character.limit) == (used, 100000) and not usage.any_limit_reached
    with pytest.raises(deepl.AuthorizationException):
        deepl.Translator("not-a-key", server_url=server).translate_text("Halo", target_lang="MS")
    with pytest.raises(deepl.DeepLException, match="formality"):
        translator.translate_text(SOURCE, target_lang="MS", formality="more")
    assert translator.translate_text(SOURCE, target_lang="MS", formality="prefer_more").text == expected


def test_the_official_client_manages_and_uses_a_glossary(server: str, keyed) -> None:
    _, keys, _ = keyed
    admin = deepl.Translator(keys["root"], server_url=server)
    pairs = admin.get_glossary_languages()
    assert any((p.source_lang, p.target_lang) == ("id", "ms") for p in pairs)
    made = admin.create_glossary("Pasar terms", "ID", "MS", {"pasar": "bazar", "uang saya": "duit saya"})
    assert (made.name, made.source_lang, made.target_lang, made.entry_count, made.ready) == (
        "Pasar terms", "ID", "MS", 2, True)
    assert made.glossary_id in [g.glossary_id for g in admin.list_glossaries()]
    assert admin.get_glossary(made.glossary_id).name == "Pasar terms"
    assert admin.get_glossary_entries(made) == {"pasar": "bazar", "uang saya": "duit saya"}
    user = deepl.Translator(keys["alice"], server_url=server)
    used = user.translate_text(SOURCE, source_lang="ID", target_lang="MS", glossary=made.glossary_id)
    assert "bazar" in used.text and "duit saya" in used.text
    with pytest.raises(deepl.AuthorizationException):  # writes need an admin key
        user.create_glossary("x", "ID", "MS", {"a": "b"})
    admin.delete_glossary(made)
    with pytest.raises(deepl.GlossaryNotFoundException):
        admin.get_glossary(made.glossary_id)


def test_the_official_client_translates_xml_with_its_tags(server: str, keyed) -> None:
    _, keys, pipeline = keyed
    translator = deepl.Translator(keys["alice"], server_url=server)
    expected = pipeline.translate(TranslationRequest(SOURCE, ["ms"], "id")).results[0].text
    xml = f'<?xml version="1.0"?><doc><Title>{SOURCE}</Title><note ref="n1">Rapat <i>bisa</i> mundur.</note></doc>'
    done = translator.translate_text(xml, source_lang="ID", target_lang="MS", tag_handling="xml",
                                     splitting_tags=["Title", "note"], ignore_tags=["i"])
    assert done.text == f'<?xml version="1.0"?><doc><Title>{expected}</Title><note ref="n1">' + done.text.split(
        '<note ref="n1">')[1]
    assert "<i>bisa</i>" in done.text and done.text.endswith("</note></doc>")  # ignored: kept as it was


def test_the_official_client_translates_a_document(server: str, keyed) -> None:
    _, keys, pipeline = keyed
    translator = deepl.Translator(keys["alice"], server_url=server)
    html = f"<p>{SOURCE}</p>".encode()
    out = io.BytesIO()
    status = translator.translate_document(html, out, source_lang="ID", target_lang="MS",
                                           filename="pasar.html")
    expected = pipeline.translate(TranslationRequest(SOURCE, ["ms"], "id")).results[0].text
    assert status.done and out.getvalue().decode() == f"<p>{expected}</p>"


# -- raw requests ---------------------------------------------------------------------------------------------
def deepl_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"DeepL-Auth-Key {key}"}


def test_raw_requests_form_and_json_errors_in_deepls_shape(keyed, tmp_path: Path) -> None:
    app, keys, _ = keyed
    client = app.test_client()
    form = client.post("/v2/translate", data={"text": [SOURCE, "Halo."], "target_lang": "ms",
                                              "source_lang": "ind"}, headers=deepl_auth(keys["alice"]))
    assert form.status_code == 200 and len(form.get_json()["translations"]) == 2
    missing = client.post("/v2/translate", json={"text": ["Halo"], "target_lang": "MS"})
    assert missing.status_code == 403 and set(missing.get_json()) == {"message"}
    bad = client.post("/v2/translate", json={"text": ["Halo"], "target_lang": "MS"}, headers=deepl_auth("nope"))
    assert bad.status_code == 403
    for sent, fragment in (({"text": ["a"], "target_lang": "PT-BR"}, "target_lang"),
                           ({"text": ["a"]}, "target_lang"), ({"target_lang": "MS"}, "text"),
                           ({"text": ["a"], "target_lang": "MS", "style_id": "s1"}, "style_id"),
                           ({"text": ["<a>b"], "target_lang": "MS", "tag_handling": "xml"}, "XML"),
                           ({"text": ['<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'], "target_lang": "MS",
                             "tag_handling": "xml"}, "entities"),
                           ({"text": ["a"], "target_lang": "MS", "tag_handling": "json"}, "tag_handling"),
                           ({"text": ["a"], "target_lang": "MS", "glossary_id": "nope", "source_lang": "ID"}, "nope")):
        r = client.post("/v2/translate", json=sent, headers=deepl_auth(keys["alice"]))
        assert r.status_code == 400 and fragment in r.get_json()["message"], (sent, r.get_json())
    over = client.post("/v2/translate", json={"text": ["x" * 60000, "y" * 45000], "target_lang": "MS"},
                       headers=deepl_auth(keys["alice"]))
    assert over.status_code in (413, 456) and "message" in over.get_json()
    html = client.post("/v2/translate", json={"text": ["<p>Saya pergi ke <code>pasar</code> dan <x-k>pasar "
                                                       "ikan</x-k>.</p>"], "target_lang": "MS", "source_lang": "ID",
                                              "tag_handling": "html", "ignore_tags": ["x-k"]},
                       headers=deepl_auth(keys["alice"]))
    text = html.get_json()["translations"][0]["text"]
    assert "<x-k>pasar ikan</x-k>" in text and "<code>pasar</code>" in text and "data-asean" not in text
    languages = client.post("/v2/languages", data={"type": "target"}, headers=deepl_auth(keys["alice"]))
    assert {"language": "MS", "name": "Malay", "supports_formality": False} in languages.get_json()
    assert client.get("/v2/languages?type=x", headers=deepl_auth(keys["alice"])).status_code == 400


def test_a_missing_model_is_400_never_503_and_the_quota_is_456(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    key = add_key(path, "tiny", "user", "12/minute")[0]
    s = Settings(data_dir=tmp_path, models_dir=tmp_path / "none", secret_key="d", api_keys_file=str(path),
                 api_keys_reload_s=0.0,
                 default_glossaries="")
    client = create_app(s, Pipeline(s, EngineRouter(s)), warm="none").test_client()
    r = client.post("/v2/translate", json={"text": ["Halo dunia."], "source_lang": "ID", "target_lang": "TH"},
                    headers=deepl_auth(key))
    assert r.status_code == 400 and "models pull" in r.get_json()["message"]
    fake = create_app(s, Pipeline(s, FixedRouter(RecordingEngine())), warm="none").test_client()
    assert fake.post("/v2/translate", json={"text": ["Halo."], "target_lang": "MS"},
                     headers=deepl_auth(key)).status_code == 200
    over = fake.post("/v2/translate", json={"text": ["Halo dunia."], "target_lang": "MS"}, headers=deepl_auth(key))
    assert over.status_code == 456 and "message" in over.get_json()
    usage = fake.get("/v2/usage", headers=deepl_auth(key)).get_json()
    assert usage == {"character_count": 5, "character_limit": 12}
    slow = add_key(path, "slow", "user", req_limit=1)[0]
    assert fake.post("/v2/translate", json={"text": ["a"], "target_lang": "MS"}, headers=deepl_auth(slow)
                     ).status_code == 200
    again = fake.post("/v2/translate", json={"text": ["a"], "target_lang": "MS"}, headers=deepl_auth(slow))
    assert again.status_code == 429 and again.headers["Retry-After"]  # a rate, retried by clients: not the quota
