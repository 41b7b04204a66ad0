"""The web form in a real headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from service.config import Settings
from service.http import create_app
from service.pipeline import Pipeline
from tests.conftest import REPO

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup.sh --test)")

XSS = "<script>window.__xss = 1</script>"
EVIL_GLOSSARY = 'id,ms\nkota jahat,"<img src=x onerror=""window.__xss2 = 1""><script>window.__xss3=1</script>"\n'


@pytest.fixture(scope="module")
def base_url(settings: Settings, router, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    glossaries = tmp_path_factory.mktemp("glossaries")
    shutil.copy(REPO / "glossary" / "asean-smart-cities.csv", glossaries)
    (glossaries / "evil.csv").write_text(EVIL_GLOSSARY, encoding="utf-8")
    s = settings.replace(secret_key="browser-test", glossary_dir=glossaries)
    app = create_app(s, Pipeline(s, router), warm="none")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def page(base_url: str, tmp_path_factory: pytest.TempPathFactory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        yield page
        browser.close()


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def only(page, *targets: str) -> None:
    """Just these targets (the form starts with every language that works here)."""
    for box in page.locator("#translate-form input[name=targets]:not([disabled])").all():
        box.uncheck()
    for target in targets:
        page.check(f"#translate-form input[name=targets][value={target}]")


def translate(page) -> None:
    """Press Translate and wait for the answer (by script: #results is busy until it arrives)."""
    page.click("#translate")
    page.wait_for_selector("#results:not([aria-busy]) .card, #results:not([aria-busy]) #error", state="attached")


def test_submit_text_and_see_translation_with_glossary_report(page, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url)
    page.fill("#text", f"Kementerian Dalam Negeri hadir di Kualalumpur. {XSS}")
    page.select_option("#source", "id")
    only(page, "ms")
    page.select_option("#glossary", "asean-smart-cities")
    translate(page)
    target = page.inner_text("#result-ms .translation")
    assert "Kuala Lumpur" in target and "<script>" in target  # shown as text
    assert page.inner_text("#result-ms mark") in ("Kementerian Dalam Negeri", "Kuala Lumpur")
    assert re.match(r"(\d+) of \1 terms right", page.inner_text("#result-ms details.report summary"))
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(tmp_path / "form.png"), full_page=True)


def test_glossary_text_is_escaped_too(page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#text", "Kota jahat ada di sini.")
    page.select_option("#source", "id")
    only(page, "ms")
    page.select_option("#glossary", "evil")
    translate(page)
    assert "<script>window.__xss3=1</script>" in page.inner_text("#result-ms .translation")
    assert page.evaluate("[window.__xss2, window.__xss3]") == [None, None]


def test_post_without_csrf_token_is_refused(page, base_url: str) -> None:
    page.goto(base_url)
    response = page.request.post(base_url, form={"text": "Bali", "targets": "ms", "source": "id"})
    assert response.status == 400 and response.json()["code"] == "csrf_failed"


def test_errors_show_inline(page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#text", "Bali")
    only(page)
    page.click("#translate")
    assert "Choose at least one target language" in page.inner_text("#error")


# -- with API keys required: the pages ask for a key once and keep it in the signed session ----------------
@pytest.fixture(scope="module")
def keyed(settings: Settings, router, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    import urllib.request

    from service.keys import add_key
    from tests.test_jobs import inline_service

    tmp = tmp_path_factory.mktemp("keyed")
    keys = {name: add_key(tmp / "keys", name)[0] for name in ("alice", "bob")}
    s = settings.replace(secret_key="browser-keys", api_keys_file=str(tmp / "keys"), require_api_key=True)
    pipeline = Pipeline(s, router)
    app = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    request = urllib.request.Request(base + "v1/jobs", method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {keys['bob']}"},
        data=b'{"documents": [{"id": "b", "text": "Bali."}], "targets": ["ms"], "source": "id"}')
    with urllib.request.urlopen(request, timeout=30) as r:
        bobs_job = json.loads(r.read())["id"]
    yield {"base": base, "alice": keys["alice"], "bobs_job": bobs_job}
    server.shutdown()


def test_signed_in_with_a_key_the_pages_act_as_that_key(page, keyed: dict[str, str], tmp_path: Path) -> None:
    base = keyed["base"]
    page.goto(base + "jobs")
    assert "/login" in page.url  # no key yet: the sign-in page, not the jobs
    page.fill("#key", "not-a-key")
    page.click("#sign-in")
    assert "not valid" in page.inner_text("#error")
    page.fill("#key", keyed["alice"])
    page.click("#sign-in")
    page.wait_for_url(base + "jobs")
    assert page.inner_text("#signed-in") == "alice"
    assert keyed["bobs_job"][:12] not in page.inner_text("#job-list")  # another key's job is not listed
    upload = tmp_path / "berita.txt"
    upload.write_text("Pertemuan tahunan di Kualalumpur.", encoding="utf-8")
    page.set_input_files("#files", str(upload))
    page.check("#job-form input[name=targets][value=ms]")
    page.click("#submit-job")
    page.wait_for_selector("#state")
    assert page.inner_text("#state") == "completed"
    mine = page.url.rsplit("/", 1)[1]
    page.goto(base + "jobs")
    assert mine[:12] in page.inner_text("#jobs") and keyed["bobs_job"][:12] not in page.inner_text("#jobs")
    assert page.goto(base + f"jobs/{keyed['bobs_job']}").status == 404
    page.goto(base)  # the translation form works as alice too
    page.fill("#text", "Kementerian Dalam Negeri hadir di Kualalumpur.")
    page.select_option("#source", "id")
    only(page, "ms")
    translate(page)
    assert "Kuala Lumpur" in page.inner_text("#result-ms .translation")
    assert page.context.cookies()[0]["value"].find(keyed["alice"]) == -1  # the cookie never holds the key
    page.click("#sign-out")
    page.wait_for_url("**/login")
    page.goto(base)
    assert "/login" in page.url


def test_the_issue_sentence_to_malay_with_detection_shown(page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#text", "Saya pergi ke pasar untuk membeli ikan.")
    only(page, "ms")
    translate(page)
    assert page.inner_text("#result-ms .translation").strip() == "Saya pergi ke pasar untuk membeli ikan."
    assert page.inner_text("#result-ms h3") == "Malay"
    assert page.inner_text("#result-ms .via").startswith("from Indonesian (detected)")
    detection = page.inner_text("#detection")
    assert "Source language uncertain" in detection and "translated as Indonesian" in detection
    # hard-wrapped lines are joined by default, and kept when asked
    page.fill("#text", "Dalam pertemuan tahunan tersebut, delegasi Indonesia dipimpin oleh\nDirektur Kawasan "
                       "Perkotaan dan Batas Negara.")
    page.select_option("#source", "id")
    translate(page)
    assert "\n" not in page.inner_text("#result-ms .translation").strip()
    page.click("details.options summary")
    page.select_option("#layout", "keep")
    translate(page)
    assert "\n" in page.inner_text("#result-ms .translation").strip()


def test_whitespace_only_text_is_one_clear_error(page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#text", "   \n  ")
    page.click("#translate")
    page.wait_for_selector("#error")
    assert page.inner_text("#error") == "Paste a text or choose a file."


def test_several_targets_become_tabs(page, base_url: str) -> None:
    page.goto(base_url)
    page.fill("#text", "Kementerian Dalam Negeri hadir di Kualalumpur.")
    page.select_option("#source", "id")
    only(page, "ms", "en")
    translate(page)
    assert page.is_visible("#result-en") and not page.is_visible("#result-ms")  # the first target's card
    assert page.get_attribute("#tab-en", "aria-current") == "true"
    page.click("#tab-ms")
    assert page.is_visible("#result-ms") and not page.is_visible("#result-en")
    assert page.get_attribute("#tab-ms", "aria-current") == "true"
    assert page.get_attribute("#tab-en", "aria-current") is None


def test_a_correction_made_under_a_result_is_used_for_the_same_text(page, base_url: str) -> None:
    sentence = "Pasar ikan di Ambon ramai sekali karena uang warga cukup."
    corrected = "Pasar ikan di Ambon sangat meriah kerana wang penduduk mencukupi."

    def translated() -> str:
        page.goto(base_url)
        page.fill("#text", sentence)
        page.select_option("#source", "id")
        only(page, "ms")
        translate(page)
        return page.inner_text("#result-ms .translation")

    assert translated() != corrected and page.query_selector("#origin-ms") is None
    page.click("#result-ms details.correct summary")
    page.fill("#correction-ms-1", corrected)
    page.evaluate("window.__still_here = 1")
    page.click("#correct-ms-1 button[type=submit]")  # saved by the page's script, in place
    expect(page.locator("#correct-ms-1 .done")).to_have_text("Saved: used from now on for this sentence.")  # approved
    assert page.evaluate("window.__still_here") == 1
    assert translated() == corrected
    assert "human corrections" in page.inner_text("#origin-ms")
    # one form per sentence: a sentence corrected in one text is used in every text that has it
    page.fill("#text", f"Rapat dimulai. {sentence}")
    translate(page)
    assert page.inner_text("#result-ms .translation").endswith(corrected)
    assert page.text_content("label[for=correction-ms-2]") == sentence
