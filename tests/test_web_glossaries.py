"""The Glossaries pages in a real headless Chromium (Debian's package) driven by Playwright: browse and search,
and, signed in with an admin key, upload a file, edit an entry and restore a version; a user key sees no forms
and cannot post them; glossary text is escaped and the page runs under the strict CSP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.config import Settings
from service.http import create_app
from service.keys import add_key
from service.pipeline import Pipeline
from tests.fakes import FixedRouter, RecordingEngine
from tests.test_web_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup.sh --test)")

UPLOAD = "id,en,ms\nkota cerdas,smart city,bandar pintar\nKemlu,MOFA,\nkota jahat,<script>window.__xss=1</script>,\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], Path]]:
    root = tmp_path_factory.mktemp("web-glossaries")
    keys = {name: add_key(root / "keys", name, role)[0] for name, role in (("editor", "admin"), ("reader", "user"))}
    s = Settings(data_dir=root, secret_key="web-glossaries", secret_key_file=root / "sk", default_glossaries="",
                 api_keys_file=str(root / "keys"), glossary_refresh_s=0.0)
    app = create_app(s, Pipeline(s, FixedRouter(RecordingEngine())), warm="none")
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    (root / "ministry.csv").write_text(UPLOAD, encoding="utf-8")
    yield f"http://127.0.0.1:{srv.server_port}", keys, root
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield launched
        launched.close()


def sign_in(page, base: str, key: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")


def test_an_editor_uploads_searches_edits_and_restores(server, browser) -> None:
    base, keys, root = server
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.on("response", lambda r: errors.append(r.url) if r.status >= 400 and "favicon" not in r.url else None)
    sign_in(page, base, keys["editor"])
    page.goto(f"{base}/glossaries")
    page.set_input_files("#glossary-file", str(root / "ministry.csv"))
    page.fill("#glossary-description", "Ministry terms")
    page.click("#upload")
    page.wait_for_url(f"{base}/glossaries/ministry")
    assert "3 entries" in page.inner_text("#count")
    assert page.evaluate("window.__xss") is None  # the glossary's text is shown, never run
    assert "<script>window.__xss=1</script>" in page.input_value("input[name='form:en'] >> nth=2")
    page.fill("#q", "KOTA")
    page.click("#search")
    assert "2 entries" in page.inner_text("#count")
    page.fill("input[aria-label='en forms of entry 1']", "intelligent city")
    page.click("#entry-1 button.save")
    page.wait_for_load_state()
    assert page.input_value("input[aria-label='en forms of entry 1']") == "intelligent city"
    assert page.locator("#versions tbody tr").count() == 2
    assert "edited entry 1" in page.inner_text("#versions") and "editor" in page.inner_text("#versions")
    page.fill("#add-id", "Bina Adwil")
    page.fill("#add-en", "Bina Adwil")
    page.click("#add")
    page.wait_for_load_state()
    assert "4 entries" in page.inner_text("#count")
    page.click("#versions tbody tr:last-child button.rollback")  # back to the uploaded file
    page.wait_for_load_state()
    assert "rolled back to version 1" in page.inner_text("#versions")
    assert "3 entries" in page.inner_text("#count")
    assert page.input_value("input[aria-label='en forms of entry 1']") == "smart city"
    with page.expect_download() as download:
        page.click("#export-tbx")
    assert download.value.suggested_filename == "ministry.v4.tbx"
    assert errors == []  # no CSP violation or script error
    page.close()


def test_a_reader_browses_without_forms_and_cannot_post_them(server, browser) -> None:
    base, keys, _ = server
    page = browser.new_page()
    sign_in(page, base, keys["reader"])
    page.goto(f"{base}/glossaries")
    assert page.locator("#upload-form").count() == 0
    page.click("text=ministry")
    assert page.locator("#entries tbody tr").count() >= 3 and page.locator("button.save").count() == 0
    status = page.evaluate("""async () => {
        const r = await fetch('/glossaries/ministry/entries/1', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'action=delete&csrf_token=x'});
        return r.status; }""")
    assert status == 403
    page.close()
