"""The web pages as a first-time visitor meets them, in Debian's Chromium driven by Playwright, on a server where
only Apertium's Indonesian -> Malay is installed (the real offline engine; English and the rest are not).

- every page at 390 px and 1280 px, light and dark: no sideways scrolling (``scrollWidth <= innerWidth``) and
  no serious or critical axe-core violation (the npm package, installed on demand into tests/.cache/);
- the translator: defaults from what works, the unavailable languages marked, a translation with and without
  JavaScript (no reload with it), the term report collapsed to one line, terms explained on focus, download;
- a document round trip, a batch job followed to completion without reloading, failures with their reason,
  cancel, and the interface language switch.

Screenshots go to tests/artifacts/screenshots/ (gitignored); a few are copied by hand to docs/screenshots/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from service.config import Settings
from service.engines.router import EngineRouter
from service.http import create_app
from service.jobs.processing import process_chunk
from service.jobs.service import JobService
from service.jobs.store import JobStore
from service.pipeline import Pipeline
from tests.conftest import REPO, SEED
from tests.test_web_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup.sh --test)")

AXE_DIR = REPO / "tests" / ".cache" / "axe"
SHOTS = REPO / "tests" / "artifacts" / "screenshots"
WIDTHS = (390, 1280)
SCHEMES = ("light", "dark")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


@dataclass
class Queue:
    """The jobs' queue: run at once, or (``hold``) kept until the test releases it, to follow a job's progress."""

    store: JobStore
    pipeline: Pipeline
    attempts: int
    hold: bool = False
    waiting: list[tuple[str, list[int]]] = field(default_factory=list)

    def enqueue(self, job_id: str, positions: list[int]) -> None:
        if self.hold:
            self.waiting.append((job_id, positions))
            return
        while positions:
            positions = process_chunk(self.store, self.pipeline, job_id, positions, self.attempts)

    def release(self) -> None:
        self.hold = False
        while self.waiting:
            self.enqueue(*self.waiting.pop(0))


@dataclass
class Server:
    base: str
    queue: Queue
    jobs: JobService


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("web-pages")
    glossaries = root / "glossaries"
    glossaries.mkdir()
    shutil.copy(REPO / "glossary" / "asean-smart-cities.csv", glossaries)
    (root / "models").mkdir()
    s = settings.replace(secret_key="web-pages", glossary_dir=glossaries, models_dir=root / "models",
                         data_dir=root / "data")
    pipeline = Pipeline(s, EngineRouter(s))  # Apertium ind-zlm only: no model is installed
    store = JobStore(f"sqlite:///{root / 'jobs.sqlite'}")
    queue = Queue(store, pipeline, s.job_max_attempts)
    jobs = JobService(s, store, pipeline, queue.enqueue)
    app = create_app(s, pipeline, warm="none", jobs=jobs)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield Server(f"http://127.0.0.1:{srv.server_port}", queue, jobs)
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's axe.min.js, installed with npm into tests/.cache/ the first time."""
    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("the accessibility scan needs npm to install axe-core (apt-get install npm)")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR), "axe-core@4"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm install axe-core failed: {done.stderr[-2000:]}"
    return script


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def watch(page) -> list[str]:
    """Console errors (a CSP violation is one) and failed requests of a page."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def only(page, *targets: str, form: str = "#translate-form") -> None:
    for box in page.locator(f"{form} input[name=targets]:not([disabled])").all():
        box.uncheck()
    for target in targets:
        page.check(f"{form} input[name=targets][value={target}]")


def translate_article(page, base: str) -> None:
    page.goto(base + "/")
    page.fill("#text", SEED.read_text(encoding="utf-8"))
    page.select_option("#source", "id")
    only(page, "ms")
    page.click("#translate")
    page.wait_for_selector("#result-ms .translation")


def fits(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def axe(page, script: Path) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(script))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


# -- the translator -----------------------------------------------------------------------------------------
def test_first_visit_defaults_to_what_works_and_marks_the_rest(browser, server: Server) -> None:
    page = browser.new_page()
    problems = watch(page)
    page.goto(server.base + "/")
    assert page.locator("h1").inner_text() == "Translate"
    assert page.is_checked("input[name=targets][value=ms]")  # the one language that works here
    english = page.locator("input[name=targets][value=en]")
    assert english.is_disabled() and not english.is_checked()
    assert page.inner_text("#why-en") == "not installed on this server" and page.is_visible("#why-en")
    assert not page.is_visible("#why-ms")
    assert not page.is_visible("text=apt-get") and not page.is_visible("text=models pull")  # operator's hint folded
    page.click("details.operator summary")
    assert "models pull" in page.inner_text("details.operator")
    page.select_option("#source", "ms")  # from Malay nothing is installed: the script follows the source
    assert page.locator("input[name=targets][value=id]").is_disabled()
    assert page.locator("input[name=targets]:checked").count() == 0
    assert problems == []
    page.close()


def test_the_example_article_with_javascript_no_reload(browser, server: Server, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    problems = watch(page)
    page.goto(server.base + "/")
    page.evaluate("window.__still_here = 1")
    page.fill("#text", SEED.read_text(encoding="utf-8"))
    page.select_option("#glossary", "asean-smart-cities")
    page.click("#translate")
    page.wait_for_selector("#result-ms .translation")
    assert page.evaluate("window.__still_here") == 1  # no page load: the results came by script
    report = page.locator("#result-ms details.report")
    assert report.get_attribute("open") is None  # collapsed to its one line
    summary = report.locator("summary").inner_text()
    present, found = map(int, re.search(r"(\d+) of (\d+) terms right", summary).groups())
    assert found > 50 and present == found
    assert report.bounding_box()["height"] < 80  # one line (two on a phone), not a table of every term
    term = page.locator("#result-ms mark.term").first
    term.focus()
    shown = page.evaluate("e => getComputedStyle(e, '::after').content", term.element_handle())
    assert term.get_attribute("data-source") and term.get_attribute("data-source") in shown
    report.locator("summary").click()
    assert page.locator("#result-ms details.report tbody tr").count() == found
    width, inner = fits(page)
    assert width <= inner, f"{width} px wide at {inner} px"
    at = page.locator("#result-ms td.at").first.inner_text()
    assert re.fullmatch(r"1–\d+", at)  # counted from one, and LF line breaks (the browser sent CRLF)
    text = page.inner_text("#result-ms .translation")
    assert "Mesyuarat Tahunan ASCN" in text and "Kuala Lumpur" in text
    with page.expect_download() as download:
        page.click("#result-ms button.download")
    assert download.value.suggested_filename == "translation.ms.txt"
    saved = tmp_path / "translation.ms.txt"
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == page.evaluate("document.getElementById('text-ms').textContent")
    page.click("#result-ms button.copy")
    expect(page.locator("#result-ms .actions .done")).not_to_be_empty()
    assert problems == []
    context.close()


def test_the_same_without_javascript(browser, server: Server) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server.base + "/")
    page.fill("#text", "Pertemuan tahunan di Kualalumpur.\r\nKementerian Dalam Negeri hadir.")
    page.click("#translate")
    page.wait_for_selector("#result-ms")
    assert "Mesyuarat tahunan di Kuala Lumpur" in page.inner_text("#result-ms .translation")
    assert "terms right" in page.inner_text("#result-ms details.report summary")
    page.click("#result-ms details.report summary")
    row = page.locator("#result-ms details.report tr", has_text="Kementerian Dalam Negeri").inner_text()
    assert "35–58" in row  # counted from one, the line break as one character (the browser sent CRLF)
    assert not page.is_visible("#result-ms .actions")  # copy and download need the script: not offered
    context.close()


def test_an_expired_form_says_so_in_place(browser, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.base + "/")
    page.fill("#text", "Pertemuan tahunan.")
    context.clear_cookies()  # the session (and its CSRF token) is gone, e.g. after a restart with a new secret
    page.click("#translate")
    expect(page.locator("#results #error")).to_have_text(
        "The form's security token is missing or expired; reload the page.")
    context.close()


def test_keyboard_only(browser, server: Server) -> None:
    """Skip link, the form, Translate and the results by keyboard alone, with the focus always visible."""
    page = browser.new_page()
    page.goto(server.base + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.locator(".skip").bounding_box()["x"] >= 0  # shown while focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "text"
    page.keyboard.type("Pertemuan tahunan di Kualalumpur.")
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]")
        assert focused[1] != "none", f"no visible focus on #{focused[0]}"
        if focused[0] == "translate":
            break
    else:
        pytest.fail("Translate cannot be reached with Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results:not([aria-busy]) #result-ms")
    assert page.evaluate("document.activeElement.id") == "results-title"  # focus goes to the results
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "copy"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "MARK"
    page.close()


# -- documents and jobs -----------------------------------------------------------------------------------
def upload_document(page, base: str, folder: Path) -> None:
    source = folder / "berita.html"
    source.write_text("<html><body><h1>Pertemuan tahunan</h1><p>Pertemuan tahunan di Jakarta.</p></body></html>",
                      encoding="utf-8")
    page.goto(base + "/")
    page.set_input_files("#file", str(source))
    page.click("#translate")
    page.wait_for_url(re.compile(r".*/documents/\w+"))
    expect(page.locator("#state")).to_have_text("completed", timeout=20000)


def test_a_document_round_trip(browser, server: Server, tmp_path: Path) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    upload_document(page, server.base, tmp_path)
    with page.expect_download() as download:
        page.click("#result-ms a.download")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    translated = saved.read_text(encoding="utf-8")
    assert "<p>" in translated and "Mesyuarat tahunan" in translated
    context.close()


def test_a_job_is_followed_to_completion_without_reloading(browser, server: Server, tmp_path: Path) -> None:
    page = browser.new_page()
    problems = watch(page)
    for name, text in (("satu.txt", "Pertemuan tahunan di Jakarta."), ("dua.txt", "Kementerian Dalam Negeri.")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    server.queue.hold = True
    page.goto(server.base + "/jobs")
    page.set_input_files("#files", [str(tmp_path / "satu.txt"), str(tmp_path / "dua.txt")])
    only(page, "ms", form="#job-form")
    page.click("#submit-job")
    page.wait_for_selector("#state")
    assert page.inner_text("#state") == "queued" and page.is_visible("#cancel")
    assert "UTC" in page.inner_text(".facts")
    page.evaluate("window.__still_here = 1")
    server.queue.release()
    expect(page.locator("#state")).to_have_text("completed", timeout=20000)
    assert page.evaluate("window.__still_here") == 1  # updated in place by the script
    assert page.inner_text("#progress") == "100%" and not page.is_visible("#cancel")
    assert "2 done, 0 failed" in page.inner_text("#counts")
    assert problems == []
    page.close()


def test_a_job_page_refreshes_itself_without_javascript(browser, server: Server) -> None:
    from service.jobs.store import NewDocument

    server.queue.hold = True
    job, _ = server.jobs.submit([NewDocument("a", "Pertemuan tahunan.")], ["ms"], "id")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.base}/jobs/{job.id}")
    assert page.inner_text("#state") == "queued"
    server.queue.release()
    expect(page.locator("#state")).to_have_text("completed", timeout=20000)  # the page reloads itself
    context.close()


def test_failures_have_their_reason_and_a_job_can_be_cancelled(browser, server: Server) -> None:
    from service.jobs.store import NewDocument

    failing, _ = server.jobs.submit([NewDocument("berita-1", "Pertemuan tahunan.")], ["ms", "en"], "id")
    page = browser.new_page()
    page.goto(f"{server.base}/jobs/{failing.id}")
    assert page.inner_text("#state") == "completed"
    assert "1 done, 1 failed" in page.inner_text("#counts")
    row = page.locator("#failures tbody tr").first.inner_text()
    assert "berita-1" in row and "English is not installed on this server." in row and "pull" not in row
    server.queue.hold = True
    held, _ = server.jobs.submit([NewDocument(f"d{i}", "Bali.") for i in range(3)], ["ms"], "id")
    page.goto(f"{server.base}/jobs/{held.id}")
    page.click("#cancel")
    expect(page.locator("#state")).to_have_text("cancelled")
    server.queue.waiting.clear()
    server.queue.hold = False
    page.goto(server.base + "/jobs")
    listed = page.locator("#jobs tbody tr", has_text=held.id[:12]).inner_text()
    assert "cancelled: 3 not translated" in listed and "100%" not in listed
    failed_row = page.locator("#jobs tbody tr", has_text=failing.id[:12]).inner_text()
    assert re.search(r"\b1\s+1\b", failed_row)  # done 1, failed 1
    assert "UTC" in failed_row
    page.close()


def test_the_interface_language_switch(browser, server: Server) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(server.base + "/")
    page.click("#lang-id")
    assert page.locator("h1").inner_text() == "Terjemahkan"
    assert page.get_attribute("html", "lang") == "id"
    assert page.inner_text("#why-en") == "belum dipasang di server ini"
    assert "Inggris" in page.inner_text("#targets")
    page.click("text=Pekerjaan massal")
    assert page.locator("h1").inner_text() == "Pekerjaan massal"  # the choice is remembered
    page.click("#lang-en")
    assert page.locator("h1").inner_text() == "Batch jobs"
    context.close()
    indonesian = browser.new_context(locale="id-ID")  # Accept-Language decides without a choice
    page = indonesian.new_page()
    page.goto(server.base + "/")
    assert page.locator("h1").inner_text() == "Terjemahkan"
    indonesian.close()


# -- every page: width and accessibility ------------------------------------------------------------------
def test_every_page_fits_a_phone_and_passes_axe(browser, server: Server, axe_script: Path, tmp_path: Path) -> None:
    from service.jobs.store import NewDocument

    failing, _ = server.jobs.submit([NewDocument("berita-1", "Pertemuan tahunan.")], ["ms", "en"], "id")
    context = browser.new_context(bypass_csp=True)  # only so that axe can be injected; our own CSP is tested above
    page = context.new_page()
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages: dict[str, Any] = {
        "translator": "/", "result": lambda: translate_article(page, server.base),
        "document": lambda: upload_document(page, server.base, tmp_path), "jobs": "/jobs",
        "job": f"/jobs/{failing.id}", "glossaries": "/glossaries", "glossary": "/glossaries/asean-smart-cities",
        "docs": "/docs", "login": "/login",
        "result-id": lambda: (page.goto(server.base + "/?lang=id"), translate_article(page, server.base)),
        "job-id": f"/jobs/{failing.id}",
    }
    failures: list[str] = []
    for name, where in pages.items():
        page.set_viewport_size({"width": 1280, "height": 900})
        page.emulate_media(color_scheme="light")
        if callable(where):
            where()
        else:
            page.goto(server.base + where)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for scheme in SCHEMES:
                page.emulate_media(color_scheme=scheme)
                for report in page.locator("details.report").all()[:1]:  # opened too: the widest state
                    report.evaluate("d => d.open = true")
                scroll, inner = fits(page)
                if scroll > inner:
                    failures.append(f"{name} at {width} px ({scheme}): {scroll} px wide")
                for v in axe(page, axe_script):
                    failures.append(f"{name} at {width} px ({scheme}): {v['impact']} {v['id']}: {v['help']} "
                                    f"{v['nodes']}")
                page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=width == 390)
                if width == 390 and page.locator("#results .card").count():  # a phone's view of the results
                    top = page.locator("#results").bounding_box()["y"]
                    page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}-results.png"), full_page=True,
                                    clip={"x": 0, "y": top - 8, "width": 390, "height": 844})
    context.close()
    assert failures == []


def test_the_checks_find_what_they_look_for(browser, server: Server, axe_script: Path) -> None:
    """The scan and the width check fail on a page that breaks them (a field without a label, a wide block)."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server.base + "/login")
    page.evaluate("""() => { document.querySelector('label[for=key]').remove();
                             const wide = document.createElement('div'); wide.style.width = '600px';
                             wide.textContent = 'wide'; document.querySelector('main').appendChild(wide); }""")
    assert "label" in [v["id"] for v in axe(page, axe_script)]
    scroll, inner = fits(page)
    assert scroll > inner
    context.close()
