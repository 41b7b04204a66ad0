"""Human corrections: a durable store with provenance in the service's database, consulted before any engine for
every sentence; each entry point (POST /v1/memory, LibreTranslate's /suggest, the web form's /corrections, a TMX
import from the command line) makes the next request on another app instance on the same database return the
correction verbatim; fuzzy matches are suggestions only; TMX 1.4 round-trips; admin-only deletion; a database that
is away never stops translation."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from service import tmx
from service.config import Settings
from service.corrections import HUMAN, MACHINE, CorrectionStore, NewCorrection
from service.errors import CorrectionNotFound, InvalidInput
from service.http import create_app
from service.keys import add_key
from service.pipeline import Pipeline, TranslationRequest
from tests.conftest import REPO
from tests.fakes import FixedRouter, RecordingEngine
from tests.test_http_edge import bearer
from tests.test_jobs_celery import pg_url  # noqa: F401 - the fixture

SENTENCE = "Kota cerdas itu bagus."
FIXED = "Bandar pintar itu sungguh bagus."


def settings_for(tmp_path: Path, **changes) -> Settings:
    return Settings(**({"data_dir": tmp_path, "secret_key": "tm", "secret_key_file": tmp_path / "sk",
                        "default_glossaries": "asean-smart-cities"} | changes))


def app_for(s: Settings, engine: RecordingEngine | None = None) -> Flask:
    return create_app(s, Pipeline(s, FixedRouter(engine or RecordingEngine())), warm="none")


def translate(client, text: str, target: str = "ms", **headers) -> dict:
    r = client.post("/v1/translate", json={"text": text, "source": "id", "targets": [target]}, headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"][0]["translations"][0]


# -- the store and the pipeline ----------------------------------------------------------------------------
def test_a_human_correction_is_returned_exactly_before_any_engine_with_its_term_report(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    engine = RecordingEngine()
    pipeline = Pipeline(s, FixedRouter(engine))
    store = pipeline.corrections
    assert store is not None
    correction, created = store.add(NewCorrection("id", "ms", SENTENCE, FIXED, glossaries={"g": "3"}), "alice")
    assert created and (correction.origin, correction.approved, correction.author) == (HUMAN, True, "alice")
    assert correction.created_at is not None and correction.glossaries == {"g": "3"}

    r = pipeline.translate(TranslationRequest(f"  {SENTENCE}  ", ["ms"], "id")).results[0]
    assert r.text == f"  {FIXED}  " and r.origin == "memory:human" and engine.batches == []
    assert (r.engine, r.model) == ("memory", "human") and r.memory == [{"source": SENTENCE, "id": correction.id}]
    term = r.terms.to_dict()["terms"][0]  # the glossary still checks the person's text
    assert (term["source"], term["required"], term["present"], term["method"]) == (
        "Kota cerdas", "Bandar pintar", True, "memory")

    r = pipeline.translate(TranslationRequest(f"{SENTENCE} Saya pergi ke pasar.", ["ms"], "id")).results[0]
    assert r.text == f"{FIXED} SAYA PERGI KE PASAR." and r.origin == "mixed"
    assert engine.batches == [["Saya pergi ke pasar."]]  # only the other sentence reached the engine
    other = pipeline.translate(TranslationRequest(SENTENCE, ["en"], "id")).results[0]
    assert other.origin == "engine" and other.text != FIXED  # another target is another correction


def test_a_correction_of_a_whole_text_and_a_wrong_one_kept_out(tmp_path: Path) -> None:
    s = settings_for(tmp_path, default_glossaries="")
    engine = RecordingEngine()
    pipeline = Pipeline(s, FixedRouter(engine))
    text = "Rapat dimulai pagi. Semua hadir."
    pipeline.corrections.add(NewCorrection("id", "ms", text, "Mesyuarat bermula pagi, semua hadir."), "bob")
    r = pipeline.translate(TranslationRequest(text + "\n", ["ms"], "id")).results[0]
    assert r.text == "Mesyuarat bermula pagi, semua hadir.\n" and r.origin == "memory:human" and not engine.batches
    with pytest.raises(InvalidInput, match="must differ"):
        pipeline.corrections.add(NewCorrection("id", "id", "a", "b"), "bob")
    with pytest.raises(InvalidInput, match="empty"):
        pipeline.corrections.add(NewCorrection("id", "ms", "  ", "b"), "bob")


def test_machine_entries_never_replace_human_ones_and_only_suggest(tmp_path: Path) -> None:
    store = CorrectionStore(f"sqlite:///{tmp_path / 'tm.sqlite'}")
    human, _ = store.add(NewCorrection("id", "ms", SENTENCE, FIXED), "alice")
    kept, created = store.add(NewCorrection("id", "ms", SENTENCE, "mesin", origin=MACHINE), "mt")
    assert not created and kept.target == FIXED and kept.origin == HUMAN
    store.add(NewCorrection("id", "ms", "Kami pergi ke pasar.", "Kami ke pasar (MT).", origin=MACHINE), "mt")
    assert store.exact("id", "ms", ["Kami pergi ke pasar.", SENTENCE]) == {SENTENCE: store.get(human.id)}
    replaced, created = store.add(NewCorrection("id", "ms", " Kota  cerdas itu bagus. ", "Lagi."), "bob")
    assert not created and replaced.id == human.id and replaced.author == "bob"  # same segment, normalised
    total, found = store.search("pasar", "", "id", "ms")
    assert total == 1 and found[0].origin == MACHINE
    store.delete(human.id)
    with pytest.raises(CorrectionNotFound):
        store.get(human.id)


def test_similar_sentences_get_suggestions_never_substitutions(tmp_path: Path) -> None:
    s = settings_for(tmp_path, default_glossaries="")
    client = app_for(s).test_client()
    assert client.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms",
                                           "text": FIXED}).status_code == 201
    near = translate(client, "Kota cerdas itu bagus sekali.")
    assert near["origin"] == "engine" and near["text"] == "KOTA CERDAS ITU BAGUS SEKALI."  # never substituted
    assert [(x["match"], x["text"], x["id"]) for x in near["suggestions"]] == [(SENTENCE, FIXED, 1)]
    assert 85 <= near["suggestions"][0]["score"] < 100
    assert translate(client, "Presiden membuka rapat di Jakarta.")["suggestions"] is None
    off = app_for(s.replace(memory_fuzzy_threshold=0.0)).test_client()
    assert translate(off, "Kota cerdas itu bagus sekali.")["suggestions"] is None


# -- every entry point, seen by another app on the same database ---------------------------------------------
@pytest.fixture
def two_apps(tmp_path: Path) -> tuple[Flask, Flask, dict[str, str]]:
    path = tmp_path / "keys"
    keys = {name: add_key(path, name, role)[0] for name, role in (("alice", "user"), ("root", "admin"))}
    s = settings_for(tmp_path, api_keys_file=str(path), require_api_key=True, api_keys_reload_s=0.0)
    return app_for(s), app_for(s), keys  # two workers: nothing shared but the database


def test_v1_memory_on_one_worker_is_used_by_another(two_apps) -> None:
    one, two, keys = two_apps
    a, b = one.test_client(), two.test_client()
    before = translate(b, SENTENCE, **bearer(keys["alice"]))
    assert before["origin"] == "engine" and before["memory"] is None
    made = a.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": FIXED},
                  headers=bearer(keys["alice"]))
    assert made.status_code == 201, made.get_data(as_text=True)
    entry = made.get_json()
    assert (entry["author"], entry["origin"], entry["text"]) == ("alice", "human", FIXED)
    assert len(entry["author_key"]) == 16 and entry["created_at"].endswith("Z")
    assert entry["glossaries"] == {"asean-smart-cities": "89d7931a2127"}  # the version in force
    # keys are required (corrections_approval auto): a user key's correction waits for an admin's approval
    assert entry["status"] == "pending" and entry["approved"] is False
    waiting = translate(b, SENTENCE, **bearer(keys["alice"]))
    assert waiting["origin"] == "engine" and waiting["text"] != FIXED  # never substituted...
    assert [(sg["id"], sg["text"], sg["status"], sg["score"]) for sg in waiting["suggestions"]] == [
        (entry["id"], FIXED, "pending", 100.0)]  # ...offered as a suggestion
    queue = b.get("/v1/memory?status=pending", headers=bearer(keys["root"])).get_json()
    assert [item["id"] for item in queue["items"]] == [entry["id"]]
    assert b.get("/v1/memory?status=approved", headers=bearer(keys["root"])).get_json()["total"] == 0
    assert b.get("/v1/memory?status=maybe", headers=bearer(keys["root"])).status_code == 400
    refused = a.post(f"/v1/memory/{entry['id']}/approve", headers=bearer(keys["alice"]))
    assert refused.status_code == 403 and refused.get_json()["code"] == "admin_required"
    assert a.post("/v1/memory/99/approve", headers=bearer(keys["root"])).status_code == 404
    approved = a.post(f"/v1/memory/{entry['id']}/approve", headers=bearer(keys["root"]))
    assert approved.status_code == 200, approved.get_data(as_text=True)
    assert (approved.get_json()["status"], approved.get_json()["reviewed_by"]) == ("approved", "root")
    after = translate(b, SENTENCE, **bearer(keys["alice"]))
    assert (after["text"], after["origin"], after["suggestions"]) == (FIXED, "memory:human", None)
    # a user key cannot take the approved translation out of use with a new pending one
    clash = a.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": "x"},
                   headers=bearer(keys["alice"]))
    assert clash.status_code == 409 and clash.get_json()["code"] == "correction_conflict"
    assert translate(b, SENTENCE, **bearer(keys["alice"]))["text"] == FIXED
    # an admin key's correction is used at once
    own = a.post("/v1/memory", json={"source": "Saya pergi ke pasar.", "source_lang": "id", "target_lang": "ms",
                                     "text": "Saya ke pasar."}, headers=bearer(keys["root"]))
    assert own.status_code == 201 and own.get_json()["status"] == "approved"
    assert translate(b, "Saya pergi ke pasar.", **bearer(keys["alice"]))["text"] == "Saya ke pasar."
    found = b.get("/v1/memory?source=kota%20CERDAS", headers=bearer(keys["alice"])).get_json()
    assert found["total"] == 1 and found["items"][0]["id"] == entry["id"]
    assert b.get("/v1/memory?source=nothing", headers=bearer(keys["alice"])).get_json()["total"] == 0
    assert b.get(f"/v1/memory/{entry['id']}", headers=bearer(keys["alice"])).get_json()["text"] == FIXED

    refused = b.delete(f"/v1/memory/{entry['id']}", headers=bearer(keys["alice"]))
    assert refused.status_code == 403 and refused.get_json()["code"] == "admin_required"
    assert b.delete(f"/v1/memory/{entry['id']}", headers=bearer(keys["root"])).status_code == 200
    assert a.get(f"/v1/memory/{entry['id']}", headers=bearer(keys["root"])).status_code == 404
    assert translate(a, SENTENCE, **bearer(keys["alice"]))["origin"] == "engine"


def test_bad_corrections_get_one_clear_error(two_apps) -> None:
    one, _, keys = two_apps
    client = one.test_client()
    for sent, status in (({"source": SENTENCE, "source_lang": "id", "target_lang": "xx", "text": "a"}, 400),
                         ({"source": SENTENCE, "source_lang": "id", "target_lang": "id", "text": "a"}, 400),
                         ({"source": SENTENCE, "source_lang": "id", "target_lang": "ms"}, 422),
                         ({"source": "a\x00", "source_lang": "id", "target_lang": "ms", "text": "b"}, 422),
                         ({"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": "x",
                           "glossary": ["no-such"]}, 400)):
        r = client.post("/v1/memory", json=sent, headers=bearer(keys["alice"]))
        assert r.status_code == status, (sent, r.get_data(as_text=True))
        assert set(r.get_json()) >= {"error", "code"} and "Traceback" not in r.get_data(as_text=True)
    assert client.get("/v1/memory?limit=x", headers=bearer(keys["alice"])).status_code == 400
    assert client.get("/v1/memory/99", headers=bearer(keys["alice"])).get_json()["code"] == "correction_not_found"


def test_libretranslate_suggest_as_libretranslate_documents_it(two_apps) -> None:
    one, two, keys = two_apps
    a, b = one.test_client(), two.test_client()
    r = a.post("/suggest", data={"q": SENTENCE, "s": FIXED, "source": "id", "target": "ms",
                                 "api_key": keys["alice"]})
    assert r.status_code == 200 and r.get_json() == {"success": True, "status": "pending"}  # for later review
    lt = b.post("/translate", json={"q": SENTENCE, "source": "id", "target": "ms", "api_key": keys["alice"]})
    assert lt.get_json()["translatedText"] != FIXED
    pending = b.get("/v1/memory?status=pending", headers=bearer(keys["root"])).get_json()["items"]
    assert b.post(f"/v1/memory/{pending[0]['id']}/approve", headers=bearer(keys["root"])).status_code == 200
    lt = b.post("/translate", json={"q": SENTENCE, "source": "id", "target": "ms", "api_key": keys["alice"]})
    assert lt.get_json()["translatedText"] == FIXED
    missing = a.post("/suggest", data={"q": SENTENCE, "source": "id", "target": "ms", "api_key": keys["alice"]})
    assert missing.status_code == 400 and missing.get_json()["error"] == "Invalid request: missing s parameter"
    json_body = a.post("/suggest", json={"q": "Saya pergi ke pasar.", "s": "Saya ke pasar.", "source": "id",
                                         "target": "ms", "api_key": keys["root"]})
    assert json_body.get_json() == {"success": True, "status": "approved"}  # an admin's: used at once
    assert translate(b, "Saya pergi ke pasar.", **bearer(keys["alice"]))["text"] == "Saya ke pasar."
    assert a.post("/suggest", data={"q": SENTENCE, "s": FIXED, "source": "id", "target": "ms"}).status_code == 401
    assert a.get("/frontend/settings").get_json()["suggestions"] is True


def test_suggestions_off_are_refused_as_libretranslate_does(tmp_path: Path) -> None:
    s = settings_for(tmp_path, memory_corrections=False)
    client = app_for(s).test_client()
    r = client.post("/suggest", data={"q": SENTENCE, "s": FIXED, "source": "id", "target": "ms"})
    assert r.status_code == 403 and r.get_json()["error"] == "Suggestions are disabled on this server."
    assert client.get("/frontend/settings").get_json()["suggestions"] is False
    assert client.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms",
                                           "text": FIXED}).status_code == 409
    assert translate(client, SENTENCE)["origin"] == "engine"


def test_web_form_correction_with_csrf_is_used_by_another_worker(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    one, two = app_for(s).test_client(), app_for(s).test_client()
    page = one.post("/", data={"text": SENTENCE, "source": "id", "targets": ["ms"], "csrf_token": _token(one)})
    html = page.get_data(as_text=True)
    assert 'action="/corrections"' in html and "Edit sentences" in html
    form = {"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": FIXED}
    assert one.post("/corrections", data=form).status_code == 400  # no CSRF token
    saved = one.post("/corrections", data=form | {"csrf_token": _token(one)}, headers={"Referer": "http://localhost/"})
    assert saved.status_code == 303 and saved.headers["Location"].startswith("/")
    told = one.get(saved.headers["Location"]).get_data(as_text=True)  # no keys required: used at once
    assert 'id="saved"' in told and "it is used from now on" in told
    fetched = one.post("/corrections", data=form | {"csrf_token": _token(one)}, headers={"Accept": "application/json"})
    assert fetched.status_code == 201 and fetched.get_json()["text"] == FIXED
    assert translate(two, SENTENCE)["text"] == FIXED
    shown = two.post("/", data={"text": SENTENCE, "source": "id", "targets": ["ms"], "csrf_token": _token(two)})
    assert FIXED in shown.get_data(as_text=True) and 'id="origin-ms"' in shown.get_data(as_text=True)
    bad = one.post("/corrections", data=form | {"text": "", "csrf_token": _token(one)})
    assert bad.status_code == 422 and 'id="error"' in bad.get_data(as_text=True)


def _token(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


# -- TMX -------------------------------------------------------------------------------------------------------
TMX_IN = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tmx SYSTEM "tmx14.dtd">
<tmx version="1.4">
  <header creationtool="Trados" creationtoolversion="1" segtype="sentence" o-tmf="x" adminlang="en-US"
          srclang="id-ID" datatype="plaintext"/>
  <body>
    <tu creationid="translator1" creationdate="20240102T030405Z">
      <tuv xml:lang="id-ID"><seg>Menteri <bpt i="1">&lt;b&gt;</bpt>membuka<ept i="1">&lt;/b&gt;</ept> rapat.</seg></tuv>
      <tuv xml:lang="ms-MY"><seg>Menteri <hi>merasmikan</hi> mesyuarat.</seg></tuv>
      <tuv xml:lang="en-GB"><seg>The minister opened the meeting.</seg></tuv>
    </tu>
    <tu><prop type="x-origin">machine</prop>
      <tuv xml:lang="id"><seg>Hujan turun.</seg></tuv><tuv xml:lang="ms"><seg>Hujan turun (MT).</seg></tuv>
    </tu>
    <tu><tuv xml:lang="id"><seg>Sendiri.</seg></tuv></tu>
    <tu><tuv xml:lang="id"><seg>Halo.</seg></tuv><tuv xml:lang="de-DE"><seg>Hallo.</seg></tuv></tu>
  </body>
</tmx>
"""


def test_tmx_import_reads_real_files(tmp_path: Path) -> None:
    path = tmp_path / "in.tmx"
    path.write_text(TMX_IN, encoding="utf-8")
    found = tmx.read(path)
    pairs = [(c.source_lang, c.target_lang, c.source, c.target, c.origin, c.author) for c in found.corrections]
    assert pairs == [("id", "ms", "Menteri membuka rapat.", "Menteri merasmikan mesyuarat.", HUMAN, "translator1"),
                     ("id", "en", "Menteri membuka rapat.", "The minister opened the meeting.", HUMAN, "translator1"),
                     ("id", "ms", "Hujan turun.", "Hujan turun (MT).", MACHINE, None)]
    assert found.corrections[0].created_at.year == 2024
    assert (found.units, found.skipped) == (4, 2) and "de-DE" in found.problems[1]
    bomb = tmp_path / "bomb.tmx"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE tmx [<!ENTITY a "aaaa">]><tmx version="1.4"><body/></tmx>')
    with pytest.raises(InvalidInput, match="entities"):
        tmx.read(bomb)
    for name, content in (("broken.tmx", "<tmx><body><tu>"), ("other.tmx", "<xliff/>"), ("empty.tmx", "")):
        (tmp_path / name).write_text(content)
        with pytest.raises(InvalidInput):
            tmx.read(tmp_path / name)


def test_tmx_round_trip_through_the_command_line_and_an_app(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    store = CorrectionStore(f"sqlite:///{first / 'jobs.sqlite'}")
    store.add(NewCorrection("id", "ms", SENTENCE, FIXED, glossaries={"asean-smart-cities": "89d7931a2127"},
                            note="checked by the ministry"), "alice")
    store.add(NewCorrection("id", "en", "Hujan turun.", "It rains <b>hard</b> & long.", origin=MACHINE,
                            approved=False), "mt")
    env = {**os.environ, "ASEAN_MT_DATA_DIR": str(first)}
    exported = subprocess.run([sys.executable, "-m", "service", "memory", "export", "--format", "tmx"], cwd=REPO,
                              env=env, capture_output=True, timeout=120)
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "memory.tmx"
    path.write_bytes(exported.stdout)
    env["ASEAN_MT_DATA_DIR"] = str(second)
    imported = subprocess.run([sys.executable, "-m", "service", "memory", "import", str(path)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0 and "2 corrections added" in imported.stdout, imported.stderr
    again = CorrectionStore(f"sqlite:///{second / 'jobs.sqlite'}")
    keep = ("source_lang", "target_lang", "source", "target", "origin", "approved", "author", "glossaries", "note")
    assert [[getattr(c, k) for k in keep] for c in again.export()] == [[getattr(c, k) for k in keep]
                                                                       for c in store.export()]
    assert [c.created_at.replace(microsecond=0) for c in again.export()] == [
        c.created_at.replace(microsecond=0) for c in store.export()]
    s = settings_for(second)
    assert translate(app_for(s).test_client(), SENTENCE)["text"] == FIXED  # imported: used at once
    missing = subprocess.run([sys.executable, "-m", "service", "memory", "import", str(tmp_path / "none.tmx")],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1


def test_export_writes_valid_tmx_for_any_text(tmp_path: Path) -> None:
    store = CorrectionStore(f"sqlite:///{tmp_path / 'tm.sqlite'}")
    store.add(NewCorrection("th", "km", "ทดสอบ <x> & \"y\"", "សាកល្បង"), "alice")
    out = io.BytesIO()
    assert tmx.write(store.export(), out) == 1
    path = tmp_path / "x.tmx"
    path.write_bytes(out.getvalue())
    assert [(c.source, c.target) for c in tmx.read(path).corrections] == [("ทดสอบ <x> & \"y\"", "សាកល្បង")]


# -- outages and PostgreSQL ----------------------------------------------------------------------------------
def test_an_unreachable_database_never_stops_translation(tmp_path: Path) -> None:
    s = settings_for(tmp_path, jobs_database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                     default_glossaries="")
    client = app_for(s).test_client()
    assert translate(client, SENTENCE)["text"] == SENTENCE.upper()
    r = client.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": FIXED})
    assert r.status_code == 503 and r.get_json()["code"] == "corrections_unavailable" and r.headers["Retry-After"]


def test_corrections_on_postgresql(tmp_path: Path, pg_url: str) -> None:  # noqa: F811 - the fixture
    s = settings_for(tmp_path, jobs_database_url=pg_url)
    a, b = app_for(s).test_client(), app_for(s).test_client()
    assert a.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms",
                                      "text": FIXED}).status_code == 201
    assert translate(b, SENTENCE)["text"] == FIXED
    assert b.get("/v1/memory?source=cerdas").get_json()["total"] == 1


def test_bulk_import_in_batches_keeps_people_over_machines_and_the_last_of_repeats(tmp_path: Path,
                                                                                   monkeypatch) -> None:
    import service.corrections as corrections

    monkeypatch.setattr(corrections, "LOOKUP_BATCH", 3)
    store = CorrectionStore(f"sqlite:///{tmp_path / 'tm.sqlite'}")
    store.add(NewCorrection("id", "ms", "Satu.", "Satu (orang)."), "alice")
    items = [NewCorrection("id", "ms", f"Kalimat {i}.", f"Ayat {i}.") for i in range(7)]
    items += [NewCorrection("id", "ms", "Satu.", "Satu (mesin).", origin=MACHINE),
              NewCorrection("id", "ms", "Kalimat 2.", "Ayat dua.")]
    assert store.add_many(items, "tmx") == (7, 2)
    found = store.exact("id", "ms", ["Satu.", "Kalimat 2.", "Kalimat 6."])
    assert {k: v.target for k, v in found.items()} == {"Satu.": "Satu (orang).", "Kalimat 2.": "Ayat dua.",
                                                       "Kalimat 6.": "Ayat 6."}
    assert found["Kalimat 6."].author == "tmx"


V1_SCHEMA = [
    "CREATE TABLE correction_schema_info (version INTEGER NOT NULL PRIMARY KEY)",
    "INSERT INTO correction_schema_info VALUES (1)",
    "CREATE TABLE corrections (id INTEGER NOT NULL PRIMARY KEY, source_lang VARCHAR(16) NOT NULL, target_lang "
    "VARCHAR(16) NOT NULL, source_key VARCHAR(64) NOT NULL, source_text TEXT NOT NULL, target_text TEXT NOT NULL, "
    "length INTEGER NOT NULL, origin VARCHAR(16) NOT NULL, approved BOOLEAN NOT NULL, author VARCHAR(64) NOT NULL, "
    "created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, glossaries JSON, note TEXT NOT NULL, "
    "UNIQUE (source_lang, target_lang, source_key))",
]


def test_a_version_1_corrections_table_is_upgraded_in_place_to_version_3(tmp_path: Path) -> None:
    import sqlite3

    from service.corrections import key_of

    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as db:
        for statement in V1_SCHEMA:
            db.execute(statement)
        db.execute("INSERT INTO corrections VALUES (1, 'id', 'ms', ?, ?, ?, 22, 'human', 1, 'old', "
                   "'2026-01-01 00:00:00', '2026-01-01 00:00:00', NULL, '')", (key_of(SENTENCE), SENTENCE, FIXED))
    store = CorrectionStore(f"sqlite:///{path}")
    found = store.exact("id", "ms", [SENTENCE])[SENTENCE]
    assert (found.target, found.author, found.author_key) == (FIXED, "old", None)
    assert (found.status, found.reviewed_by, found.reviewed_at) == ("approved", None, None)  # as it was
    made, _ = store.add(NewCorrection("id", "ms", "Rapat.", "Mesyuarat."), "new", "0123456789abcdef")
    assert store.get(made.id).author_key == "0123456789abcdef"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM correction_schema_info").fetchall() == [(3,)]
    waiting, _ = store.add(NewCorrection("id", "ms", "Hujan.", "Hujan.", approved=False), "new")
    assert store.approve(waiting.id, "root").reviewed_by == "root"
    assert store.exact("id", "ms", ["Hujan."])["Hujan."].reviewed_at is not None


# -- approval ----------------------------------------------------------------------------------------------
def test_approval_settings_any_and_admin(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    keys = {name: add_key(path, name, role)[0] for name, role in (("alice", "user"), ("root", "admin"))}
    sent = {"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": FIXED}
    # any: a trusted team that uses keys: every key's correction is used at once
    trusted = app_for(settings_for(tmp_path / "any", api_keys_file=str(path), require_api_key=True,
                                   corrections_approval="any")).test_client()
    assert trusted.post("/v1/memory", json=sent, headers=bearer(keys["alice"])).get_json()["status"] == "approved"
    assert translate(trusted, SENTENCE, **bearer(keys["alice"]))["text"] == FIXED
    # admin without required keys: a caller without a key waits, an admin key does not
    s = settings_for(tmp_path / "admin", api_keys_file=str(path), corrections_approval="admin")
    one, two = app_for(s).test_client(), app_for(s).test_client()
    made = one.post("/v1/memory", json=sent)
    assert made.status_code == 201 and made.get_json()["status"] == "pending"
    assert translate(two, SENTENCE)["text"] != FIXED
    assert one.post("/suggest", data={"q": "Rapat dimulai.", "s": "Mesyuarat bermula.", "source": "id",
                                      "target": "ms"}).get_json() == {"success": True, "status": "pending"}
    form = {"source": "Hujan turun.", "source_lang": "id", "target_lang": "ms", "text": "Hujan turun lebat.",
            "csrf_token": _token(one)}
    saved = one.post("/corrections", data=form, headers={"Referer": "http://localhost/"})
    assert "waits for a reviewer" in one.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Correction waiting for approval" in two.post("/", data={
        "text": "Hujan turun.", "source": "id", "targets": ["ms"], "csrf_token": _token(two)}).get_data(as_text=True)
    assert one.post(f"/v1/memory/{made.get_json()['id']}/approve").status_code == 403  # keys are configured
    assert one.post("/v1/memory", json=sent | {"text": "Kota pintar."}, headers=bearer(keys["root"])).get_json()[
        "status"] == "approved"  # an admin's replaces the pending one, used at once
    assert translate(two, SENTENCE)["text"] == "Kota pintar."


def test_auto_without_keys_approves_at_once(tmp_path: Path) -> None:
    one, two = app_for(settings_for(tmp_path)).test_client(), app_for(settings_for(tmp_path)).test_client()
    made = one.post("/v1/memory", json={"source": SENTENCE, "source_lang": "id", "target_lang": "ms", "text": FIXED})
    assert made.get_json()["status"] == "approved"
    assert translate(two, SENTENCE)["origin"] == "memory:human"


def test_the_command_line_lists_and_approves_pending_corrections(tmp_path: Path) -> None:
    path = tmp_path / "in.tmx"
    path.write_text(TMX_IN, encoding="utf-8")
    env = {**os.environ, "ASEAN_MT_DATA_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "service", "memory", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)

    assert cli("import", "--pending", str(path)).returncode == 0
    client = app_for(settings_for(tmp_path)).test_client()
    sentence = "Menteri membuka rapat."
    assert translate(client, sentence)["origin"] == "engine"  # imported for review: not used yet
    listed = cli("list", "--pending")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert {row[1] for row in rows} == {"pending"} and "pending corrections" in listed.stderr
    ids = [row[0] for row in rows if row[2] == "id-ms" and row[4].startswith(sentence)]
    assert len(ids) == 1
    approved = cli("approve", ids[0])
    assert approved.returncode == 0 and approved.stdout.startswith(f"{ids[0]}\tapproved"), approved.stderr
    assert translate(client, sentence)["origin"] == "memory:human"
    assert ids[0] not in [line.split("\t")[0] for line in cli("list", "--pending").stdout.splitlines()]
    missing = cli("approve", "999")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1
