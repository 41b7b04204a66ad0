"""Trust at the edges, in-process: every route protected by its policy (a walk over the route table), keys
with roles, limits and revocation, jobs that belong to their key, one rate-limit currency, cross-site
requests, trusted proxies, the rate limiter's Redis going away, bounded metric labels and request limits,
and every job input path validated like the JSON one."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.config import Settings
from service.errors import ConfigError
from service.http import create_app
from service.http.policy import ALWAYS_PUBLIC, check_routes
from service.jobs.store import JobStore
from service.keys import add_key, read_keys, revoke_key
from service.pipeline import Pipeline
from tests.fakes import FixedRouter, RecordingEngine
from tests.test_jobs import inline_service
from tests.test_jobs_celery import pg_url  # noqa: F401 - the fixture

DOC = {"id": "d1", "text": "Pertemuan tahunan."}


def fake_pipeline(s: Settings) -> Pipeline:
    return Pipeline(s.replace(default_glossaries=""), FixedRouter(RecordingEngine()))


@pytest.fixture
def keyring(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "keys"
    keys = {name: add_key(path, name, role)[0] for name, role in (("alice", "user"), ("bob", "user"),
                                                                  ("root", "admin"))}
    return path, keys


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def keyed_app(settings: Settings, tmp_path: Path, path: Path, pipeline: Pipeline | None = None,
              **changes) -> Flask:
    s = settings.replace(secret_key="edge", api_keys_file=str(path), require_api_key=True, api_keys_reload_s=0.0,
                         **changes)
    pipeline = pipeline or fake_pipeline(s)
    return create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False))


def url_for_rule(rule: str) -> str:
    return re.sub(r"<(?:[a-z_]+:)?[a-z_]+>", "x", re.sub(r"<int:[a-z_]+>", "1", rule))


# -- 1. keys, limits and ownership in one place ------------------------------------------------------------
def test_every_route_is_protected_or_on_the_short_public_list(settings: Settings, tmp_path: Path,
                                                               keyring) -> None:
    """With keys required and no route group left open, every route of the app refuses a caller without a
    key (401, or the sign-in page for web pages), except the explicit public list."""
    path, _ = keyring
    app = keyed_app(settings, tmp_path, path, public_endpoints="")
    client = app.test_client()
    walked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            response = client.open(url_for_rule(rule.rule), method=method)
            where = f"{method} {rule.rule} -> {response.status_code}"
            refused = response.status_code == 401 or (
                response.status_code == 303 and response.headers["Location"].startswith("/login")) or (
                rule.rule.startswith("/v2/") and response.status_code == 403  # DeepL's clients read 403
                and set(response.get_json()) == {"message"})
            if rule.endpoint in ALWAYS_PUBLIC:
                assert not refused, where
            else:
                assert refused, where
            walked += 1
    assert walked >= 25
    assert ALWAYS_PUBLIC == {"health.healthz", "health.readyz", "static", "web.favicon", "web.login",
                             "web.login_submit"}


def test_a_route_without_a_policy_is_refused_at_start_up(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", data_dir=tmp_path)
    app = create_app(s, fake_pipeline(s), warm="none")
    app.add_url_rule("/v1/forgot", view_func=lambda: "oops", endpoint="forgot")
    with pytest.raises(ConfigError, match="/v1/forgot"):
        check_routes(app)
    with pytest.raises(ConfigError, match="public_endpoints"):
        create_app(s.replace(public_endpoints="docs,everything"), fake_pipeline(s), warm="none")


def test_public_endpoint_groups_are_a_setting(settings: Settings, pipeline: Pipeline, tmp_path: Path,
                                              keyring) -> None:
    path, keys = keyring
    default = keyed_app(settings, tmp_path, path, pipeline).test_client()  # docs,languages,metrics
    for url in ("/docs", "/openapi.json", "/v1/languages", "/languages", "/metrics", "/healthz"):
        assert default.get(url).status_code == 200, url
    assert default.get("/v1/glossaries").status_code == 401
    assert default.get("/v1/glossaries", headers=bearer(keys["alice"])).status_code == 200
    closed = keyed_app(settings, tmp_path, path, pipeline, public_endpoints="glossaries").test_client()
    assert closed.get("/metrics").status_code == 401 and closed.get("/v1/glossaries").status_code == 200
    assert closed.get("/metrics", headers=bearer(keys["alice"])).status_code == 200


def test_keys_file_keeps_the_first_format_and_adds_roles_and_limits(tmp_path: Path) -> None:
    from service.keys import hash_key

    path = tmp_path / "keys"
    path.write_text(f"# clients\n{hash_key('old')} newsroom desk\n{hash_key('adm')} ops role=admin "
                    f"limit=500/hour\n", encoding="utf-8")
    old, admin = read_keys(path)
    assert (old.name, old.role, old.limit) == ("newsroom desk", "user", "")
    assert (admin.name, admin.role, admin.limit, admin.admin) == ("ops", "admin", "500/hour", True)
    path.write_text(f"{hash_key('x')} x role=root\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="role must be"):
        read_keys(path)


def test_a_revoked_key_stops_working_without_a_restart(settings: Settings, tmp_path: Path, keyring) -> None:
    path, keys = keyring
    app = keyed_app(settings, tmp_path, path)
    client = app.test_client()
    body = {"text": "Bali", "source": "id", "targets": ["ms"]}
    assert client.post("/v1/translate", json=body, headers=bearer(keys["bob"])).status_code == 200
    assert revoke_key(path, "bob") == 1
    assert client.post("/v1/translate", json=body, headers=bearer(keys["bob"])).get_json()["code"] == \
        "invalid_api_key"
    assert client.post("/v1/translate", json=body, headers=bearer(keys["alice"])).status_code == 200
    carol, _ = add_key(path, "carol")  # a new key works at once too
    assert client.post("/v1/translate", json=body, headers=bearer(carol)).status_code == 200
    assert "# revoked " in path.read_text() and [r.name for r in read_keys(path)] == ["alice", "root", "carol"]
    path.write_text("not a key file\n")  # a broken edit: the last good keys stay in force
    assert client.post("/v1/translate", json=body, headers=bearer(carol)).status_code == 200


def test_a_key_with_its_own_character_limit(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    small, _ = add_key(path, "small", limit="100/minute")
    big, _ = add_key(path, "big")
    client = keyed_app(settings, tmp_path, path).test_client()
    body = {"text": "x" * 60, "source": "id", "targets": ["ms"]}
    assert client.post("/v1/translate", json=body, headers=bearer(small)).status_code == 200
    limited = client.post("/v1/translate", json=body, headers=bearer(small))
    assert limited.status_code == 429 and "100/minute" in limited.get_json()["error"]
    for _ in range(3):  # no server-wide limit for the other key
        assert client.post("/v1/translate", json=body, headers=bearer(big)).status_code == 200


def test_jobs_belong_to_the_key_that_created_them(settings: Settings, tmp_path: Path, keyring) -> None:
    path, keys = keyring
    client = keyed_app(settings, tmp_path, path).test_client()
    created = client.post("/v1/jobs", json={"documents": [DOC], "targets": ["ms"]}, headers=bearer(keys["alice"]))
    assert created.status_code == 201
    job = created.get_json()["id"]
    missing = client.get("/v1/jobs/" + "0" * 32, headers=bearer(keys["bob"]))
    for method, url in (("GET", f"/v1/jobs/{job}"), ("GET", f"/v1/jobs/{job}/results"),
                        ("DELETE", f"/v1/jobs/{job}")):
        other = client.open(url, method=method, headers=bearer(keys["bob"]))
        assert other.status_code == 404 and other.get_json()["code"] == missing.get_json()["code"], url
        assert client.open(url, method=method, headers=bearer(keys["root"])).status_code == 200, url  # admin
    assert client.get(f"/v1/jobs/{job}", headers=bearer(keys["alice"])).get_json()["state"] == "cancelled"
    # idempotency keys are each key's own: bob reusing alice's key makes his own job, no 409, no leak
    body = {"documents": [DOC], "targets": ["ms"]}
    first = client.post("/v1/jobs", json=body, headers={**bearer(keys["alice"]), "Idempotency-Key": "same"})
    theirs = client.post("/v1/jobs", json={**body, "targets": ["en"]},
                         headers={**bearer(keys["bob"]), "Idempotency-Key": "same"})
    assert (first.status_code, theirs.status_code) == (201, 201)
    assert first.get_json()["id"] != theirs.get_json()["id"]


def test_without_keys_every_job_is_shared(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x")
    client = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False)).test_client()
    job = client.post("/v1/jobs", json={"documents": [DOC], "targets": ["ms"]}).get_json()["id"]
    assert client.get(f"/v1/jobs/{job}").status_code == 200
    assert job[:12] in client.get("/jobs").get_data(as_text=True)


def _token(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_web_pages_ask_for_a_key_once_and_show_only_its_jobs(settings: Settings, tmp_path: Path, keyring) -> None:
    path, keys = keyring
    app = keyed_app(settings, tmp_path, path)
    api = app.test_client()
    bobs = api.post("/v1/jobs", json={"documents": [DOC], "targets": ["ms"]}, headers=bearer(keys["bob"]))
    bobs_job = bobs.get_json()["id"]
    web = app.test_client()
    first = web.get("/jobs")
    assert first.status_code == 303 and first.headers["Location"] == "/login?next=/jobs"
    assert web.post("/jobs", data={"targets": "ms"}).status_code == 303  # no job created without a key
    login = web.get(first.headers["Location"]).get_data(as_text=True)
    wrong = web.post("/login", data={"key": "nope", "next": "/jobs", "csrf_token": _token(login)})
    assert wrong.status_code == 401 and "not valid" in wrong.get_data(as_text=True)
    signed = web.post("/login", data={"key": keys["alice"], "next": "/jobs", "csrf_token": _token(login)})
    assert signed.status_code == 303 and signed.headers["Location"] == "/jobs"
    page = web.get("/jobs").get_data(as_text=True)
    assert "alice" in page and bobs_job[:12] not in page
    made = web.post("/jobs", data={"csrf_token": _token(page), "targets": "ms", "source": "id",
                                   "files": [(BytesIO(b"Pertemuan tahunan."), "a.txt")]},
                    content_type="multipart/form-data")
    assert made.status_code == 303
    page = web.get("/jobs").get_data(as_text=True)
    assert made.headers["Location"].rsplit("/", 1)[1][:12] in page and bobs_job[:12] not in page
    assert web.get(f"/jobs/{bobs_job}").status_code == 404
    assert web.get(f"/jobs/{bobs_job}/results").status_code == 404
    # the session holds the key's hash, not the key
    assert keys["alice"] not in web.get_cookie("session").value
    revoke_key(path, "alice")  # revoked: signed out at the next request
    assert web.get("/jobs").status_code == 303


def test_job_submission_is_charged_like_translation(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", rate_limit="100/minute")
    pipeline = fake_pipeline(s)
    client = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False)).test_client()
    job = {"documents": [{"id": "a", "text": "x" * 30}], "targets": ["ms", "en"]}  # 30 x 2 = 60 characters
    assert client.post("/v1/jobs", json=job).status_code == 201
    limited = client.post("/v1/translate", json={"text": "x" * 60, "source": "id", "targets": ["ms"]})
    assert limited.status_code == 429
    over = {"documents": [{"id": "a", "text": "x" * 41}], "targets": ["ms"]}  # 60 + 41 > 100
    assert client.post("/v1/jobs", json=over).status_code == 429
    too_big = client.post("/v1/jobs", json={"documents": [{"id": "a", "text": "x" * 51}], "targets": ["ms", "en"]})
    assert too_big.status_code == 413
    page = client.get("/jobs").get_data(as_text=True)  # the web form pays the same way
    form = client.post("/jobs", data={"csrf_token": _token(page), "targets": "ms",
                                      "files": [(BytesIO(b"y" * 60), "a.txt")]}, content_type="multipart/form-data")
    assert form.status_code == 429 and 'class="error"' in form.get_data(as_text=True)


def test_cross_site_form_posts_need_a_key(settings: Settings, tmp_path: Path, keyring) -> None:
    path, keys = keyring
    s = settings.replace(secret_key="x", api_keys_file=str(path))  # keys exist but are not required
    pipeline = fake_pipeline(s)
    client = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False)).test_client()

    def submit(**headers: str):
        return client.post("/v1/jobs", data={"targets": "ms", "files": [(BytesIO(b"Bali"), "a.txt")]},
                           content_type="multipart/form-data", headers=headers)

    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        refused = submit(**headers)
        assert refused.status_code == 403 and refused.get_json()["code"] == "cross_site_request", headers
    assert client.post("/translate", data={"q": "Bali", "source": "id", "target": "ms"},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert submit(Origin="https://evil.example", **bearer(keys["alice"])).status_code == 201  # a key: fine
    assert submit(Origin="http://localhost").status_code == 201  # our own origin (the test client's host)
    assert submit(**{"Sec-Fetch-Site": "same-origin"}).status_code == 201
    assert submit().status_code == 201  # no browser headers: not a browser (curl, scripts)
    as_json = client.post("/v1/jobs", json={"documents": [DOC], "targets": ["ms"]},
                          headers={"Origin": "https://evil.example"})
    assert as_json.status_code == 201  # a browser cannot send JSON cross-site without a CORS preflight we refuse


def test_trusted_proxies_give_each_client_its_own_bucket(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", rate_limit="100/minute", trusted_proxies="10.0.0.1, 192.168.0.0/16",
                         data_dir=tmp_path)
    client = create_app(s, fake_pipeline(s), warm="none").test_client()
    body = {"text": "x" * 60, "source": "id", "targets": ["ms"]}

    def call(peer: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.post("/v1/translate", json=body, headers=headers,
                           environ_base={"REMOTE_ADDR": peer}).status_code

    assert [call("10.0.0.1", "1.1.1.1"), call("10.0.0.1", "2.2.2.2")] == [200, 200]  # two clients, two buckets
    assert call("192.168.3.4", "1.1.1.1") == 429  # the same client through another trusted proxy
    # an untrusted peer cannot choose its bucket: its X-Forwarded-For is ignored
    assert [call("10.9.9.9", "3.3.3.3"), call("10.9.9.9", "4.4.4.4")] == [200, 429]
    with pytest.raises(ConfigError, match="trusted_proxies"):
        create_app(s.replace(trusted_proxies="proxy.local"), fake_pipeline(s), warm="none")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server of this test's own, on a free port, to be killed mid-test (never the shared one)."""
    import shutil

    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis(port=port).ping()
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.1)
    yield f"redis://127.0.0.1:{port}/0", proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


@pytest.mark.slow
def test_rate_limiter_redis_down_fails_open_or_closed_never_500(settings: Settings, tmp_path: Path,
                                                                 private_redis) -> None:
    url, proc = private_redis
    base = settings.replace(secret_key="x", rate_limit="100000/minute", redis_url=url, data_dir=tmp_path)
    apps = {mode: create_app(base.replace(rate_limit_failure_mode=mode), fake_pipeline(base), warm="none")
            for mode in ("open", "closed")}
    clients = {mode: app.test_client() for mode, app in apps.items()}
    calls = [("post", "/v1/translate", {"json": {"text": "Bali", "source": "id", "targets": ["ms"]}}),
             ("post", "/v1/detect", {"json": {"text": "Pertemuan tahunan kota cerdas"}}),
             ("post", "/translate", {"data": {"q": "Bali", "source": "id", "target": "ms"}})]
    for mode, client in clients.items():
        for method, url_path, kwargs in calls:
            assert getattr(client, method)(url_path, **kwargs).status_code == 200, (mode, url_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for method, url_path, kwargs in calls:
        assert getattr(clients["open"], method)(url_path, **kwargs).status_code == 200, url_path
        refused = getattr(clients["closed"], method)(url_path, **kwargs)
        assert refused.status_code == 503, url_path
        assert refused.get_json()["code"] == "rate_limit_unavailable" and int(refused.headers["Retry-After"]) >= 1
    metrics = clients["open"].get("/metrics").get_data(as_text=True)
    assert "rate_limit_errors_total 3.0" in metrics
    with pytest.raises(ConfigError, match="rate_limit_failure_mode"):
        create_app(base.replace(rate_limit_failure_mode="maybe"), fake_pipeline(base), warm="none")


# -- 3. bounded at the edge ----------------------------------------------------------------------------------
def test_metric_labels_come_from_closed_sets(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", data_dir=tmp_path)
    client = create_app(s, fake_pipeline(s), warm="none").test_client()
    for i in range(20):
        client.open("/v1/translate", method=f"M{i}X")
        client.get(f"/no/such/page/{i}")
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="unmatched",method="other",status="405"} 20.0' in metrics
    assert 'http_requests_total{endpoint="unmatched",method="GET",status="404"} 20.0' in metrics
    assert "M1X" not in metrics and "/no/such" not in metrics


def test_glossaries_per_request_are_limited(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", max_glossaries=2)
    pipeline = Pipeline(s, FixedRouter(RecordingEngine()))
    client = create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False)).test_client()
    names = ["asean-smart-cities"] * 3
    for url, body in (("/v1/translate", {"text": "Bali", "source": "id", "targets": ["ms"], "glossary": names}),
                      ("/v1/jobs", {"documents": [DOC], "targets": ["ms"], "glossary": names})):
        refused = client.post(url, json=body)
        assert refused.status_code == 413 and refused.get_json()["setting"] == "max_glossaries", url
        assert client.post(url, json={**body, "glossary": names[:2]}).status_code in (200, 201), url


# -- 4. every input path validated like the JSON one ---------------------------------------------------------
def upload(client: FlaskClient, name: str, data: bytes, **fields):
    return client.post("/v1/jobs", data={"targets": "ms", **fields, "files": [(BytesIO(data), name)]},
                       content_type="multipart/form-data")


BAD_UPLOADS = [
    ("nested 100,000 deep", "deep.jsonl", b"[" * 100_000 + b"]" * 100_000, 400, "deep.jsonl:1: nested"),
    ("lone surrogate", "s.jsonl", b'{"id":1,"text":"a\\ud800b"}\n', 400, "lone surrogates"),
    ("csv field over 131,072", "big.csv", b"id,text\n1," + b"a" * 140_000 + b"\n", 400, "big.csv:2"),
    ("NUL in a .txt file", "nul.txt", b"a\x00b", 400, "NUL"),
    ("NUL in a .jsonl text", "nul.jsonl", b'{"id": "x", "text": "a\\u0000b"}\n', 400, "NUL"),
    ("NUL in a file name", "a\x00b.txt", b"Bali", 400, "NUL"),
    ("600-character file name", "n" * 596 + ".txt", b"Bali", 422, "documents.0.id"),
    ("10,000-character document id", "ids.jsonl", json.dumps({"id": "i" * 10_000, "text": "Bali"}).encode(), 422,
     "documents.0.id"),
]


@pytest.fixture
def job_client(settings: Settings, pipeline: Pipeline, tmp_path: Path) -> FlaskClient:
    s = settings.replace(secret_key="x")
    return create_app(s, pipeline, warm="none", jobs=inline_service(s, pipeline, tmp_path, run=False)).test_client()


@pytest.mark.parametrize(("name", "filename", "data", "status", "says"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_bad_job_files_get_a_clear_error(job_client: FlaskClient, name: str, filename: str, data: bytes,
                                         status: int, says: str) -> None:
    response = upload(job_client, filename, data)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert says in response.get_data(as_text=True)


def test_multipart_fields_are_checked_like_json(job_client: FlaskClient) -> None:
    nul = upload(job_client, "a.txt", b"Bali", text="a\x00b")
    assert nul.status_code == 422 and "NUL" in nul.get_json()["error"]
    page = job_client.get("/jobs").get_data(as_text=True)
    web = job_client.post("/jobs", data={"csrf_token": _token(page), "targets": "ms", "text": "a\x00b"},
                          content_type="multipart/form-data")
    assert web.status_code == 422 and "NUL" in web.get_data(as_text=True) and 'class="error"' in web.get_data(True)


def test_every_text_route_refuses_nul_the_same_way(job_client: FlaskClient) -> None:
    bodies = {"/v1/translate": {"text": "a\x00b", "targets": ["ms"]}, "/v1/detect": {"text": "a\x00b"},
              "/v1/summarize": {"text": "a\x00b"}, "/translate": {"q": "a\x00b", "target": "ms"},
              "/detect": {"q": "a\x00b"}, "/v1/jobs": {"documents": [{"id": "a", "text": "a\x00b"}], "targets": ["ms"]}}
    for url, body in bodies.items():
        response = job_client.post(url, json=body)
        assert response.status_code == 422 and "NUL characters" in response.get_json()["error"], url


@pytest.mark.slow
def test_bad_uploads_on_the_postgresql_store(settings: Settings, pipeline: Pipeline,
                                             pg_url: str) -> None:  # noqa: F811
    """PostgreSQL refuses NUL and long values where SQLite does not: the same checks must come first."""
    from service.jobs.service import JobService

    s = settings.replace(secret_key="x")
    jobs = JobService(s, JobStore(pg_url), pipeline, lambda job_id, positions: None)
    client = create_app(s, pipeline, warm="none", jobs=jobs).test_client()
    for name, filename, data, status, says in BAD_UPLOADS:
        response = upload(client, filename, data)
        assert response.status_code == status and says in response.get_data(as_text=True), name
    long_id = client.post("/v1/jobs", json={"documents": [{"id": "i" * 10_000, "text": "x"}], "targets": ["ms"]})
    assert long_id.status_code == 422
    assert upload(client, "fine.txt", b"Pertemuan tahunan.").status_code == 201


def _v1_store(url: str) -> None:
    """A job store as version 1 wrote it: no owner column, schema_info at 1, one job."""
    from sqlalchemy import create_engine, text

    store = JobStore(url)
    store.ping()  # today's schema (the store makes it on first use), then taken back to v1
    store.engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_jobs_owner"))
        conn.execute(text("ALTER TABLE jobs DROP COLUMN owner"))
        conn.execute(text("UPDATE schema_info SET version = 1"))
        conn.execute(text("INSERT INTO jobs (id, created_at, cancelled, source, targets, beam_size, documents, "
                          "payload_hash) VALUES ('0123456789abcdef0123456789abcdef', '2025-01-01', false, 'id', "
                          "'[\"ms\"]', 4, 0, 'x')"))
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_version_1_job_store_is_upgraded_in_place(backend: str, tmp_path: Path, request) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    _v1_store(url)
    store = JobStore(url)
    store.ping()  # the first use brings the schema up to date
    from sqlalchemy import func, select

    from service.jobs.store import SCHEMA_VERSION, SchemaInfo

    with store.sessions() as s:
        assert s.scalar(select(func.max(SchemaInfo.version))) == SCHEMA_VERSION
    old = store.get("0123456789abcdef0123456789abcdef")
    assert old.owner is None  # made without a key: shared without keys, admin-only with them
    assert [j.id for j in store.list_jobs(owner=None)] == [old.id] and store.list_jobs(owner="f" * 64) == []
    JobStore(url).ping()  # opening it again changes nothing


# -- LibreTranslate: real detection values -----------------------------------------------------------------
def test_libretranslate_reports_each_texts_own_language_and_confidence(settings: Settings, pipeline: Pipeline,
                                                                       tmp_path: Path) -> None:
    client = create_app(settings.replace(secret_key="x", data_dir=tmp_path), pipeline, warm="none").test_client()
    indonesian = "Kementerian Dalam Negeri berencana menyelenggarakan kegiatan untuk kota-kota cerdas."
    thai = "ประเทศอินโดนีเซียได้รับเลือกอีกครั้ง"
    both = client.post("/translate", json={"q": [indonesian, thai], "source": "auto", "target": "en"}).get_json()
    detected = both["detectedLanguage"]
    assert [d["language"] for d in detected] == ["id", "th"]
    expected = [round(100 * pipeline.detector.detect(t).confidence, 1) for t in (indonesian, thai)]
    assert [d["confidence"] for d in detected] == expected and expected[0] != expected[1]
    one = client.post("/detect", data={"q": indonesian}).get_json()
    assert one == [{"language": "id", "confidence": expected[0]}] and expected[0] != 90.0


def test_keys_command_new_list_revoke(tmp_path: Path) -> None:
    import os
    import sys

    from tests.conftest import REPO

    path = tmp_path / "keys"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "service", "keys", *args, "--file", str(path)], cwd=REPO,
                              env={**os.environ, "ASEAN_MT_API_KEYS_FILE": ""}, capture_output=True, text=True,
                              timeout=60)

    made = cli("new", "--name", "ops", "--role", "admin", "--limit", "2000000/day")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    record = read_keys(path)[0]
    assert (record.name, record.role, record.limit) == ("ops", "admin", "2000000/day")
    from service.keys import hash_key

    assert record.digest == hash_key(key) and key not in path.read_text()  # only the hash is stored
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = cli("new", "--name", "ops")
    assert again.returncode == 2 and again.stderr.startswith("error: A key named 'ops' exists already")
    assert cli("new", "--name", "desk").returncode == 0
    listed = cli("list").stdout
    assert re.search(r"ops\s+admin\s+2000000/day\s+[0-9a-f]{12}\s+active", listed), listed
    revoked = cli("revoke", "ops")
    assert revoked.returncode == 0 and "revoked 1 key named 'ops'" in revoked.stdout
    assert re.search(r"ops\s+.*revoked 20\d\d-", cli("list").stdout)
    assert [r.name for r in read_keys(path)] == ["desk"]
    missing = cli("revoke", "ops")
    assert missing.returncode == 2 and "No active key named 'ops'" in missing.stderr


def test_web_form_over_the_body_limit_shows_the_error_on_the_page(settings: Settings, tmp_path: Path) -> None:
    s = settings.replace(secret_key="x", max_body_bytes=1000, data_dir=tmp_path)
    client = create_app(s, fake_pipeline(s), warm="none").test_client()
    token = _token(client.get("/").get_data(as_text=True))
    response = client.post("/", data={"csrf_token": token, "text": "a" * 5000, "targets": "ms"})
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "larger than this route accepts (1,000 bytes)" in response.get_data(as_text=True)


def test_metrics_skip_the_file_of_a_worker_that_is_starting(tmp_path: Path) -> None:
    """A recycled worker's metrics file exists empty for an instant; /metrics read at that moment answered 500
    (bench/soak.py found it). prometheus_client reads its environment when imported: a fresh process."""
    import os
    import sys

    from tests.conftest import REPO

    script = (
        "import pathlib, sys\n"
        "from service.http.state import Metrics\n"
        "metrics = Metrics()\n"
        "metrics.count_request('/v1/translate', 'POST', 200, 0.1)\n"
        "(pathlib.Path(sys.argv[1]) / 'counter_99999.db').write_bytes(b'')  # the new worker's file, not sized yet\n"
        "sys.stdout.write(metrics.exposition().decode())\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'http_requests_total{endpoint="/v1/translate",method="POST",status="200"} 1.0' in done.stdout
