"""The interface's own language: every string of the pages has its Indonesian and Malay translation (extracted from the
templates and the page-facing Python with Babel, compared with the catalogue), the compiled .mo is the .po's,
and the visitor's language comes from Accept-Language or the switch (remembered in the session)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from service.config import Settings
from service.http import create_app
from service.pipeline import Pipeline
from tests.conftest import REPO
from tests.fakes import FixedRouter, RecordingEngine


def i18n_script():
    spec = importlib.util.spec_from_file_location("i18n_script", REPO / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_every_string_of_the_pages_is_translated_into_indonesian_and_malay() -> None:
    script = i18n_script()
    extracted = [m.id for m in script.extract() if m.id]
    assert len(extracted) > 150 and "Translate" in extracted and "Cancel the job" in extracted
    assert script.LOCALES == ("id", "ms")
    assert [p for locale in script.LOCALES for p in script.problems(locale)] == []


def test_the_check_fails_on_a_string_without_translation(monkeypatch: pytest.MonkeyPatch) -> None:
    script = i18n_script()
    real = script.extract

    def with_a_new_string() -> Catalog:
        catalog = real()
        catalog.add("A sentence nobody translated yet")
        return catalog

    monkeypatch.setattr(script, "extract", with_a_new_string)
    assert script.problems("id") == ["id: no translation for 'A sentence nobody translated yet'"]


@pytest.fixture
def client(tmp_path: Path):
    s = Settings(data_dir=tmp_path, secret_key="i18n", secret_key_file=tmp_path / "sk", default_glossaries="")
    return create_app(s, Pipeline(s, FixedRouter(RecordingEngine())), warm="none").test_client()


def h1(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert found is not None
    return found.group(1).strip()


def test_accept_language_then_the_switch_decides(client) -> None:
    page = client.get("/", headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="id">' in page and h1(page) == "Terjemahkan" and "Melayu" in page
    page = client.get("/", headers={"Accept-Language": "ms-MY"}).get_data(as_text=True)
    assert '<html lang="ms">' in page and h1(page) == "Terjemah" and "Inggeris" in page
    page = client.get("/", headers={"Accept-Language": "fr, en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en">' in page and h1(page) == "Translate"
    client.get("/?lang=id")  # the switch: kept in the session, whatever the browser says afterwards
    page = client.get("/jobs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert h1(page) == "Pekerjaan massal"
    client.get("/?lang=xx")  # not a language of the interface: ignored
    assert h1(client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)) == "Terjemahkan"


def test_form_errors_come_in_the_visitors_language(client) -> None:
    page = client.get("/", headers={"Accept-Language": "id"}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/", data={"csrf_token": token, "text": "Bali", "source": "id"},
                         headers={"Accept-Language": "id"})
    assert answer.status_code == 400
    assert "Pilih setidaknya satu bahasa tujuan." in answer.get_data(as_text=True)


def test_a_missing_model_is_said_without_the_operators_command(client) -> None:
    from service.http.errors import for_visitors

    with client.application.test_request_context("/", headers={"Accept-Language": "id"}):
        said = for_visitors("model_missing", "id -> en needs model x: run `python -m service models pull x`",
                            {"target": "en"})
    assert said == "Bahasa Inggris belum dipasang di server ini."
