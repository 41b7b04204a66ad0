"""The OpenAPI document covers every route, and a property-based run of it against the app (schemathesis)
drives every operation, jobs, LibreTranslate and web pages included: no generated request may get a server
error, every answer has a media type the document promises for its status, and every JSON error has the one
error body. Limits are small so that generated texts stay quick to translate with the tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from service.config import Settings
from service.http import create_app
from service.http.bodies import read_json
from service.http.openapi import _ARGUMENT
from service.http.policy import route
from service.http.schemas import DetectBody
from service.pipeline import Pipeline
from tests.test_jobs import inline_service


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings, router, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    s = settings.replace(secret_key="x", max_text_chars=300, max_total_chars=600, max_texts=3, max_targets=3,
                         beam_size=1, max_job_documents=3, max_job_bytes=2000, max_document_wait_s=0.2,
                         max_document_bytes=20_000,
                         data_dir=tmp_path_factory.mktemp("fuzz-data"))  # glossaries it creates stay its own
    pipeline = Pipeline(s, router)
    jobs = inline_service(s, pipeline, tmp_path_factory.mktemp("jobs"), run=False)
    return create_app(s, pipeline, warm="none", jobs=jobs)


def documented_paths(app: Flask) -> set[tuple[str, str]]:
    doc = app.test_client().get("/openapi.json").get_json()
    return {(path, method.upper()) for path, item in doc["paths"].items() for method in item}


def routed_paths(app: Flask) -> set[tuple[str, str]]:
    return {(_ARGUMENT.sub(r"{\1}", rule.rule), method) for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}


def test_every_route_is_in_the_openapi_document(fuzz_app: Flask, settings: Settings, router,
                                                tmp_path: Path) -> None:
    assert routed_paths(fuzz_app) == documented_paths(fuzz_app)
    assert ("/v1/jobs", "POST") in documented_paths(fuzz_app) and ("/translate", "POST") in documented_paths(fuzz_app)
    # a route added later is documented from its policy alone, with its body model
    app = create_app(settings.replace(secret_key="x", data_dir=tmp_path), Pipeline(settings, router), warm="none")

    @route("An extra route", read=read_json(DetectBody), bodies={"application/json": DetectBody})
    def extra(item: str) -> str:
        return item

    app.add_url_rule("/v1/extra/<item>", view_func=extra, methods=["POST"])
    op = app.test_client().get("/openapi.json").get_json()["paths"]["/v1/extra/{item}"]["post"]
    assert op["summary"] == "An extra route" and op["parameters"][0]["name"] == "item"
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DetectBody")
    assert {"401", "422", "413"} <= set(op["responses"])


def fuzz_operation(op, seen: dict[str, set[int]]) -> None:
    responses = op.definition.raw["responses"]

    @given(case=op.as_strategy())
    @hypothesis_settings(max_examples=25, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        response = case.call()
        where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        assert response.status_code < 500, where
        media = response.headers["content-type"][0].split(";")[0] if "content-type" in response.headers else ""
        promised = responses.get(str(response.status_code), {}).get("content", {"application/json": {}})
        assert response.status_code in (303, 405) or media in promised, where
        if response.status_code >= 400 and media == "application/json":
            shape = {"message"} if case.path.startswith("/v2/") else {"error", "code"}  # DeepL's own shape
            assert shape <= set(response.json()), where
        seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)

    check()


def test_openapi_document_drives_every_operation_without_server_errors(fuzz_app: Flask) -> None:
    api_schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # schemathesis leaves out the document's own path
    assert {(op.path, op.method.upper()) for op in operations} == documented_paths(fuzz_app) - {
        ("/openapi.json", "GET")}
    seen: dict[str, set[int]] = {}
    for op in operations:
        fuzz_operation(op, seen)
    assert all(status < 500 for statuses in seen.values() for status in statuses)
    assert {"POST /v1/jobs", "DELETE /v1/jobs/{job_id}", "POST /translate", "POST /jobs"} <= set(seen)


CODES = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my", "tha_Thai", "fil"]


def test_any_text_in_any_known_pair_gets_an_answer_never_a_server_error(settings: Settings, router) -> None:
    """Schema-generated bodies mostly carry unknown language codes; this run keeps the codes valid so that
    arbitrary Unicode text reaches the pipeline, the glossary and the engines."""
    s = settings.replace(secret_key="x", max_text_chars=300, max_total_chars=900, beam_size=1)
    client = create_app(s, Pipeline(s, router), warm="none").test_client()
    statuses: set[int] = set()

    @given(text=st.text(max_size=120), source=st.sampled_from(["auto", *CODES]),
           targets=st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
    @hypothesis_settings(max_examples=60, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def check(text: str, source: str, targets: list[str]) -> None:
        response = client.post("/v1/translate", json={"text": text, "source": source, "targets": targets})
        statuses.add(response.status_code)
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        if response.status_code >= 400:
            assert {"error", "code"} <= set(response.get_json())

    check()
    assert 200 in statuses
