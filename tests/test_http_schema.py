"""Property-based run of the OpenAPI document against the app (schemathesis): for every operation, no
generated request may get a server error, and every error has the one JSON body. Limits are small so that
generated texts stay quick to translate with the tiny models."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from service.config import Settings
from service.http import create_app
from service.pipeline import Pipeline


@pytest.fixture(scope="module")
def api_schema(settings: Settings, router):
    s = settings.replace(secret_key="x", max_text_chars=300, max_total_chars=600, max_texts=3, max_targets=3,
                         beam_size=1)
    app = create_app(s, Pipeline(s, router), warm="none")
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def test_openapi_document_drives_every_operation_without_server_errors(api_schema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/translate", "POST /v1/detect", "POST /v1/summarize", "GET /v1/languages", "GET /readyz"}
    seen: dict[str, set[int]] = {}
    for op in operations:
        @given(case=op.as_strategy())
        @hypothesis_settings(max_examples=30, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call()
            where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
            assert response.status_code < 500, where
            assert response.headers["content-type"][0].startswith("application/json"), where
            if response.status_code >= 400:
                assert {"error", "code"} <= set(response.json()), where
            seen.setdefault(f"{case.method} {case.path}", set()).add(response.status_code)

        check()
    assert all(status < 500 for statuses in seen.values() for status in statuses)


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
