"""Managed glossaries: versions in the service's database, the /v1/glossaries API with admin-only writes, a change
seen by every app on the same database without a restart, the translation memory after an edit, and an outage of
the glossary database that translation survives."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from flask import Flask

from service.config import Settings
from service.engines.base import DecodeOptions
from service.errors import GlossariesUnavailable, GlossaryConflict
from service.http import create_app
from service.http.policy import policy_of
from service.keys import add_key
from service.memory import CachingEngine, LruMemory
from service.pipeline import Pipeline, TranslationRequest
from service.terminology import formats
from service.terminology.glossary import Entry
from service.terminology.registry import GlossaryRegistry
from service.terminology.store import ManagedGlossaries
from tests.fakes import FixedRouter, RecordingEngine
from tests.services import PrivatePostgres
from tests.test_glossary_formats import TBX3, xlsx
from tests.test_http_edge import bearer, url_for_rule
from tests.test_jobs_celery import pg_url  # noqa: F401 - the fixture

SEED_ENTRIES = [{"forms": {"id": ["kota cerdas"], "en": ["smart city"], "ms": ["bandar pintar"]}},
                {"forms": {"id": ["Bina Adwil"]}, "dnt": True, "case_sensitive": True}]


def e(forms: dict[str, str], **flags) -> Entry:
    return Entry({k: tuple(v.split("|")) for k, v in forms.items()}, flags.get("dnt", False),
                 flags.get("case", False))


def settings_for(tmp_path: Path, **changes) -> Settings:
    return Settings(**({"data_dir": tmp_path, "secret_key": "managed", "secret_key_file": tmp_path / "sk",
                        "default_glossaries": "", "glossary_refresh_s": 0.0} | changes))


def app_for(s: Settings, engine=None) -> Flask:
    return create_app(s, Pipeline(s, FixedRouter(engine or RecordingEngine())), warm="none")


def translate(client, text: str, glossary: str, target: str = "en") -> dict:
    r = client.post("/v1/translate", json={"text": text, "source": "id", "targets": [target], "glossary": [glossary]})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"][0]["translations"][0]


# -- the store ---------------------------------------------------------------------------------------------
def test_every_change_is_a_version_with_who_and_when_and_any_version_comes_back(tmp_path: Path) -> None:
    store = ManagedGlossaries(f"sqlite:///{tmp_path / 'g.sqlite'}")
    store.create("kemendagri", [e({"id": "kota cerdas", "en": "smart city"}), e({"id": "Adwil", "en": "Adwil"})],
                 ["id", "en"], "alice")
    entry, v2 = store.update_entry("kemendagri", 1, e({"id": "kota cerdas", "en": "intelligent city"}), "bob")
    assert v2 == 2 and entry.id == 1
    added, v3 = store.add_entry("kemendagri", e({"id": "Kemlu", "en": "MOFA"}), "bob")
    assert (added.id, v3) == (3, 3)
    assert store.delete_entry("kemendagri", 2, "carol") == 4
    history = store.history("kemendagri")
    assert [(v.version, v.author, v.action, v.entries) for v in history] == [
        (4, "carol", "deleted entry 2", 2), (3, "bob", "added entry 3", 3), (2, "bob", "edited entry 1", 2),
        (1, "alice", "created", 2)]
    assert [x.forms["en"] for x in store.load("kemendagri", 1).entries] == [("smart city",), ("Adwil",)]
    assert [x.forms["en"] for x in store.load("kemendagri").entries] == [("intelligent city",), ("MOFA",)]
    diff = store.diff("kemendagri", 1, 4)
    assert ([x.id for x in diff.added], [x.id for x in diff.removed], [(a.id, b.forms["en"]) for a, b in diff.changed]
            ) == ([3], [2], [(1, ("intelligent city",))])
    info = store.rollback("kemendagri", 1, "alice")
    assert info.version == 5 and [x.forms["en"] for x in store.load("kemendagri").entries] == [("smart city",),
                                                                                                ("Adwil",)]
    assert store.diff("kemendagri", 1, 5).changed == [] and store.diff("kemendagri", 1, 5).added == []
    with pytest.raises(GlossaryConflict):
        store.add_entry("kemendagri", e({"id": "KOTA CERDAS", "en": "x"}), "bob")  # another entry's source form
    with pytest.raises(GlossaryConflict):
        store.create("kemendagri", [e({"id": "x"})], ["id"], "alice")


def test_reimporting_a_file_keeps_the_ids_of_entries_with_the_same_source_term(tmp_path: Path) -> None:
    store = ManagedGlossaries(f"sqlite:///{tmp_path / 'g.sqlite'}")
    store.create("g", [e({"id": "a", "en": "A"}), e({"id": "b", "en": "B"}), e({"id": "c", "en": "C"})], ["id", "en"],
                 "alice")
    store.replace("g", [e({"id": "c", "en": "C"}), e({"id": "B", "en": "Bee"}), e({"id": "d", "en": "D"})],
                  ["id", "en"], "bob")
    now = {x.forms["id"][0]: x.id for x in store.load("g").entries}
    assert now == {"B": 2, "c": 3, "d": 4}  # b kept its id (same term, another case), a is gone, d is new
    diff = store.diff("g", 1, 2)
    assert [x.id for x in diff.removed] == [1] and [x.id for x in diff.added] == [4] and len(diff.changed) == 1


# -- the API -----------------------------------------------------------------------------------------------
@pytest.fixture
def keyed(tmp_path: Path) -> tuple[Flask, dict[str, str]]:
    path = tmp_path / "keys"
    keys = {name: add_key(path, name, role)[0] for name, role in (("alice", "user"), ("root", "admin"))}
    s = settings_for(tmp_path, api_keys_file=str(path), require_api_key=True, api_keys_reload_s=0.0)
    return app_for(s), keys


def test_writes_need_an_admin_key_and_every_admin_route_says_so(keyed) -> None:
    app, keys = keyed
    client = app.test_client()
    body = {"name": "kemendagri", "entries": SEED_ENTRIES}
    assert client.post("/v1/glossaries", json=body).status_code == 401
    refused = client.post("/v1/glossaries", json=body, headers=bearer(keys["alice"]))
    assert refused.status_code == 403 and refused.get_json()["code"] == "admin_required"
    made = client.post("/v1/glossaries", json=body, headers=bearer(keys["root"]))
    assert made.status_code == 201 and made.get_json()["updated_by"] == "root"
    assert client.get("/v1/glossaries/kemendagri/entries", headers=bearer(keys["alice"])).status_code == 200
    walked = 0
    for rule in app.url_map.iter_rules():  # every admin route refuses a user key, in one place
        policy = policy_of(app, rule.endpoint)
        if policy is None or not policy.admin:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = url_for_rule(rule.rule).replace("/x", "/kemendagri", 1)
            response = client.open(url, method=method, headers=bearer(keys["alice"]), json={})
            assert response.status_code == 403, f"{method} {rule.rule} -> {response.status_code}"
            walked += 1
    assert walked >= 12


def test_api_upload_edit_search_versions_rollback_export(tmp_path: Path) -> None:
    client = app_for(settings_for(tmp_path)).test_client()  # no keys configured: a single-user server
    sheet = xlsx([["id", "en", "ms"], ["kota cerdas", "smart city", "bandar pintar"], ["Kemlu", "MOFA", ""]])
    made = client.post("/v1/glossaries", data={"file": (io.BytesIO(sheet), "kemlu.xlsx"),
                                               "description": "Ministry terms"}, content_type="multipart/form-data")
    assert made.status_code == 201 and made.get_json()["name"] == "kemlu" and made.headers["Location"].endswith(
        "/v1/glossaries/kemlu")
    assert translate(client, "Kota cerdas dan Kemlu.", "kemlu")["text"] == "Smart city DAN MOFA."
    edited = client.patch("/v1/glossaries/kemlu/entries/1", json={"forms": {"id": ["kota cerdas"],
                                                                             "en": ["intelligent city"]}})
    assert edited.status_code == 200 and edited.get_json()["version"] == "2"
    done = translate(client, "Kota cerdas dan Kemlu.", "kemlu")  # the next translation uses the edit
    assert done["text"] == "Intelligent city DAN MOFA." and done["glossary"]["versions"] == {"kemlu": "2"}
    page = client.get("/v1/glossaries/kemlu/entries?q=MOF&limit=1").get_json()
    assert page["total"] == 1 and page["entries"][0]["forms"]["en"] == ["MOFA"]
    assert client.post("/v1/glossaries/kemlu/entries", json={"forms": {"id": ["Adwil"]}, "dnt": True}
                       ).status_code == 201
    assert client.put("/v1/glossaries/kemlu/entries/3", json={"forms": {"id": ["Adwil"], "en": ["Adwil"]}}
                      ).get_json()["version"] == "4"
    assert client.delete("/v1/glossaries/kemlu/entries/2").get_json()["version"] == "5"
    assert client.get("/v1/glossaries/kemlu/entries/2").status_code == 404
    versions = client.get("/v1/glossaries/kemlu/versions").get_json()["versions"]
    assert [v["action"] for v in versions] == ["deleted entry 2", "edited entry 3", "added entry 3",
                                               "edited entry 1", "created from kemlu.xlsx"]
    diff = client.get("/v1/glossaries/kemlu/diff?from=1&to=5").get_json()
    assert len(diff["added"]) == 1 and len(diff["removed"]) == 1 and len(diff["changed"]) == 1
    assert client.post("/v1/glossaries/kemlu/rollback", json={"version": 1}).get_json()["version"] == "6"
    assert translate(client, "Kota cerdas dan Kemlu.", "kemlu")["text"] == "Smart city DAN MOFA."
    tbx = client.get("/v1/glossaries/kemlu/export?format=tbx")
    assert tbx.mimetype == "application/x-tbx+xml" and 'filename="kemlu.v6.tbx"' in tbx.headers["Content-Disposition"]
    assert len(formats.read_glossary(tbx.data, "k.tbx")[0].entries) == 2
    old = client.get("/v1/glossaries/kemlu/export?format=csv&version=2").get_data(as_text=True)
    assert "intelligent city" in old
    replaced = client.put("/v1/glossaries/kemlu", data={"file": (io.BytesIO(TBX3.encode()), "city.tbx")},
                          content_type="multipart/form-data")
    assert replaced.status_code == 200 and replaced.get_json()["version"] == "7"
    assert client.delete("/v1/glossaries/kemlu").status_code == 200
    assert client.get("/v1/glossaries/kemlu").status_code == 404
    r = client.post("/v1/translate", json={"text": "Kemlu", "source": "id", "targets": ["en"], "glossary": ["kemlu"]})
    assert r.status_code == 400 and r.get_json()["code"] == "glossary_not_found"


@pytest.mark.parametrize(("upload", "status", "expected"), [
    (("<tbx><text><body>\n<conceptEntry>", "broken.tbx"), 422, "broken.tbx:2: the XML is not well-formed"),
    (("term,translation\nkota,city\n", "wrong.csv"), 422, "wrong.csv:1: unknown language columns"),
    (("id,en\nkota,city\nKota,town\n", "dup.csv"), 422, "dup.csv:3: duplicate source variant 'Kota'"),
    (("id,en\n", "empty.csv"), 422, "The glossary has no entries."),
    (("<tbx><text><body></body></text></tbx>", "empty.tbx"), 422, "The glossary has 1 problem: empty.tbx:1: no "
                                                                  "entries"),
])
def test_bad_files_change_nothing_and_say_where(tmp_path: Path, upload: tuple[str, str], status: int,
                                                expected: str) -> None:
    client = app_for(settings_for(tmp_path)).test_client()
    text, name = upload
    r = client.post("/v1/glossaries", data={"file": (io.BytesIO(text.encode()), name), "name": "g"},
                    content_type="multipart/form-data")
    assert r.status_code == status and expected in r.get_json()["error"], r.get_json()
    assert r.get_json()["code"] == "glossary_invalid"
    assert client.get("/v1/glossaries/g").status_code == 404
    dup = client.post("/v1/glossaries", json={"name": "g", "entries": [{"forms": {"id": ["a"]}},
                                                                       {"forms": {"id": ["A"]}}]})
    assert dup.status_code == 422 and dup.get_json()["problems"] == [
        "entries:2: duplicate source term 'A' (id), already in entry 1"]


def test_built_in_glossaries_are_read_only_and_limits_are_settings(tmp_path: Path) -> None:
    s = settings_for(tmp_path, glossary_dir=Path(__file__).resolve().parent.parent / "glossary",
                     max_glossary_entries=2, max_glossary_upload_bytes=2000)
    client = app_for(s).test_client()
    r = client.post("/v1/glossaries/asean-smart-cities/entries", json={"forms": {"id": ["x"]}})
    assert r.status_code == 409 and r.get_json()["code"] == "glossary_conflict"
    assert client.post("/v1/glossaries", json={"name": "asean-smart-cities", "entries": SEED_ENTRIES}
                       ).status_code == 409
    entries = client.get("/v1/glossaries/asean-smart-cities/entries?q=kota&limit=2").get_json()
    assert entries["total"] >= 3 and len(entries["entries"]) == 2 and "next" in entries
    big = client.post("/v1/glossaries", json={"name": "g", "entries": [{"forms": {"id": [f"t{i}"]}}
                                                                       for i in range(3)]})
    assert big.status_code == 413 and big.get_json()["setting"] == "max_glossary_entries"
    huge = client.post("/v1/glossaries", data={"file": (io.BytesIO(b"id,en\n" + b"a,b\n" * 600), "g.csv")},
                       content_type="multipart/form-data")
    assert huge.status_code == 413


# -- every worker, without a restart -------------------------------------------------------------------------
def two_apps_share_one_database(url: str, tmp_path: Path) -> None:
    s = settings_for(tmp_path, jobs_database_url=url, glossary_refresh_s=0.5)
    one, two = app_for(s).test_client(), app_for(s).test_client()
    assert two.get("/v1/glossaries").status_code == 200  # the second worker has seen the list before
    made = one.post("/v1/glossaries", json={"name": "kemendagri", "entries": SEED_ENTRIES})
    assert made.status_code == 201
    # a glossary created on one worker is used by the next request on the other
    assert translate(two, "kota cerdas di Bina Adwil", "kemendagri")["text"] == "smart city DI Bina Adwil"
    assert one.patch("/v1/glossaries/kemendagri/entries/1", json={"forms": {"id": ["kota cerdas"], "en": [
        "intelligent city"]}}).status_code == 200
    deadline = time.monotonic() + 5  # within glossary_refresh_s on the other worker
    while translate(two, "kota cerdas", "kemendagri")["text"] != "intelligent city":
        assert time.monotonic() < deadline, "the other worker never saw the edit"
        time.sleep(0.1)
    assert translate(two, "kota cerdas", "kemendagri")["glossary"]["versions"] == {"kemendagri": "2"}
    assert one.delete("/v1/glossaries/kemendagri").status_code == 200
    time.sleep(0.6)
    r = two.post("/v1/translate", json={"text": "kota", "source": "id", "targets": ["en"], "glossary": ["kemendagri"]})
    assert r.status_code == 400


def test_two_apps_on_one_sqlite_database(tmp_path: Path) -> None:
    two_apps_share_one_database(f"sqlite:///{tmp_path / 'shared.sqlite'}", tmp_path)


@pytest.mark.slow
def test_two_apps_on_one_postgresql_database(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    two_apps_share_one_database(pg_url, tmp_path)


def test_the_translation_memory_never_serves_an_older_glossary_version(tmp_path: Path) -> None:
    """Why the memory's design already guarantees it: its key is the sentence *as the engine receives it*, after
    the glossary has put placeholders where its terms are, and the terms' target forms are put in after the
    memory. So an edited target form is applied to a remembered translation (right, no engine call), and a change
    in which terms a sentence has (an entry added, removed or given other source forms) changes the sentence sent,
    so the old translation is never found for it."""
    engine = RecordingEngine()
    s = settings_for(tmp_path)
    pipeline = Pipeline(s, FixedRouter(CachingEngine(engine, LruMemory(1 << 20), "r1")))
    store = pipeline.glossaries.managed
    store.create("g", [e({"id": "kota cerdas", "en": "smart city"})], ["id", "en"], "alice")

    def run() -> str:
        request = TranslationRequest("kota cerdas di sini.", ["en"], "id", DecodeOptions(beam_size=1), ["g"])
        return pipeline.translate(request).results[0].text

    assert run() == "smart city DI SINI." and engine.batches == [["ZXQ0 di sini."]]
    _, version = store.update_entry("g", 1, e({"id": "kota cerdas", "en": "intelligent city"}), "bob")
    pipeline.glossaries.changed("g", version)
    assert run() == "intelligent city DI SINI." and len(engine.batches) == 1  # remembered, with the new form
    _, version = store.add_entry("g", e({"id": "sini", "en": "here"}), "bob")
    pipeline.glossaries.changed("g", version)
    assert run() == "intelligent city DI here." and engine.batches[-1] == ["ZXQ0 di ZXQ1."]  # a new sentence


# -- outages ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_translation_survives_an_outage_of_the_glossary_database(tmp_path: Path) -> None:
    postgres = PrivatePostgres().start()
    try:
        s = settings_for(tmp_path, jobs_database_url=postgres.url, glossary_refresh_s=0.0,
                         glossary_dir=Path(__file__).resolve().parent.parent / "glossary")
        client = app_for(s).test_client()
        assert client.post("/v1/glossaries", json={"name": "used", "entries": SEED_ENTRIES}).status_code == 201
        assert client.post("/v1/glossaries", json={"name": "unused", "entries": SEED_ENTRIES}).status_code == 201
        assert translate(client, "kota cerdas", "used")["text"] == "smart city"
        postgres.stop()
        # built-in glossaries never touch the database; one already loaded keeps its last version
        assert translate(client, "Kemendagri", "asean-smart-cities")["glossary"]["terms_found"] == 1
        assert translate(client, "kota cerdas", "used")["glossary"]["versions"] == {"used": "1"}
        r = client.post("/v1/translate", json={"text": "kota", "source": "id", "targets": ["en"],
                                               "glossary": ["unused"]})
        assert r.status_code == 503 and r.get_json()["code"] == "glossaries_unavailable" and r.headers["Retry-After"]
        r = client.post("/v1/glossaries", json={"name": "new", "entries": SEED_ENTRIES})
        assert r.status_code == 503 and r.get_json()["code"] == "glossaries_unavailable"
        listing = client.get("/v1/glossaries").get_json()
        assert listing["managed_unavailable"] and [g["name"] for g in listing["glossaries"]] == ["asean-smart-cities"]
    finally:
        postgres.remove()


def test_a_registry_without_a_database_answers_for_built_ins(tmp_path: Path) -> None:
    store = ManagedGlossaries("postgresql+psycopg://nobody@127.0.0.1:1/none")
    registry = GlossaryRegistry(Pipeline(settings_for(tmp_path), FixedRouter(RecordingEngine())).glossaries.builtin,
                                store)
    with pytest.raises(GlossariesUnavailable):
        registry.get("anything")
    assert registry.names() == ["asean-smart-cities"]  # the built-ins, listed without the database
