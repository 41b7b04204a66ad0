"""The OpenAPI 3.1 document, generated from the route table and each route's policy (``@route``: summary,
access, body models per media type, what it answers): every route is in it, and a new one cannot be left
out. The body schemas are the pydantic models that validate the requests, so they cannot drift either."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from pydantic.json_schema import models_json_schema

from service import __version__
from service.http.policy import PAGE, PUBLIC, SAFE_METHODS, Policy, policy_of, public_groups, route
from service.http.state import current_service

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object", "required": ["error", "code"],
    "properties": {"error": {"type": "string", "description": "one sentence for people"},
                   "code": {"type": "string", "description": "machine-readable reason"}},
    "additionalProperties": True,
}
ERRORS = {400: "bad request", 401: "API key missing or invalid",
          403: "a cross-site request without a key, or a change that needs an admin key",
          404: "not found", 409: "conflict", 413: "a limit was exceeded (the setting is named)",
          415: "wrong content type", 422: "validation failed", 429: "rate limited (see Retry-After)",
          502: "engine failure", 503: "a model must be pulled, a dependency is down, or not ready",
          456: "the key's character limit is used up (DeepL's quota status)"}
#: Routes that answer in DeepL's shape (policy.errors_as): DeepL's error body, and this service's statuses as
#: DeepL's (service.http.deepl.deepl_error).
DEEPL_ERROR = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}},
               "additionalProperties": True}
DEEPL_STATUS = {401: 403, 409: 400, 422: 400, 429: 456}
SUCCESS = {200: "OK", 201: "created", 204: "done, nothing to answer", 303: "see the Location header"}
SCHEMAS = {"application/json": {"type": "object", "additionalProperties": True},
           "application/x-ndjson": {"type": "string", "description": "one JSON object a line"},
           "text/html": {"type": "string"}, "text/plain": {"type": "string"}, "text/css": {"type": "string"},
           "application/octet-stream": {"type": "string", "format": "binary", "description": "a file"},
           "text/csv": {"type": "string"}, "application/x-tbx+xml": {"type": "string"},
           "image/svg+xml": {"type": "string"}, "text/tab-separated-values": {"type": "string"}}
_ARGUMENT = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def _errors(policy: Policy, method: str, has_path_args: bool) -> list[int]:
    codes = set(policy.errors)
    if policy.access != PUBLIC:
        codes.add(401)
    if method not in SAFE_METHODS or policy.admin:
        codes.add(403)
    if has_path_args:
        codes.add(404)
    if policy.read is not None or policy.csrf:
        codes |= {400, 413, 415, 422}
    if policy.cost is not None:
        codes |= {400, 413, 429}
    if policy.access == PAGE:
        codes.add(303)  # to the sign-in page when keys are required
    if policy.errors_as is not None:
        codes = {DEEPL_STATUS.get(c, c) for c in codes}
    return sorted(codes)


def _operation(policy: Policy, method: str, path_args: list[str], settings: Any) -> dict[str, Any]:
    open_without_key = policy.access == PUBLIC or (
        policy.group is not None and policy.group in public_groups(settings.public_endpoints))
    op: dict[str, Any] = {"summary": policy.summary, "operationId": None, "tags": list(policy.tags) or ["api"]}
    if policy.description:
        op["description"] = policy.description
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
              for name in path_args]
    params += [{"name": name, "in": "query", "required": False, "schema": schema, "description": text}
               for name, (schema, text) in policy.query.items()]
    if params:
        op["parameters"] = params
    if policy.bodies:
        op["requestBody"] = {"required": True, "content": {
            media: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            for media, model in policy.bodies.items()}}
    responses: dict[str, Any] = {str(policy.status): {"description": SUCCESS.get(policy.status, "OK")}}
    if policy.status not in (303, 204):  # produces may list several media types ("text/csv,application/x-tbx+xml")
        responses[str(policy.status)]["content"] = {media: {"schema": SCHEMAS[media]}
                                                    for media in policy.produces.split(",")}
    for code in _errors(policy, method, bool(path_args)):
        if code == 303:
            responses["303"] = {"description": "not signed in: to the sign-in page"}
            continue
        media = {"application/json": {"schema": DEEPL_ERROR if policy.errors_as is not None else ERROR}}
        if policy.page is not None:  # web forms show their errors on the page
            media["text/html"] = {"schema": {"type": "string"}}
        responses[str(code)] = {"description": ERRORS[code], "content": media}
    op["responses"] = responses
    if not open_without_key:
        op["security"] = [{"bearer": []}, {"apiKey": []}] + ([{"session": []}] if policy.access == PAGE else []) + (
            [{"deeplAuthKey": []}] if policy.errors_as is not None else [])
    return op


def build_document(app: Flask | None = None) -> dict[str, Any]:
    app = app or current_app
    s = current_service().settings
    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, Any] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        policy = policy_of(app, rule.endpoint)
        assert policy is not None  # check_routes refused the app otherwise
        path = _ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = _operation(policy, method, list(_ARGUMENT.findall(rule.rule)), s)
            op["operationId"] = f"{rule.endpoint}.{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = op
        for model in policy.bodies.values():
            models[model.__name__] = model
    _, defs = models_json_schema([(m, "validation") for m in models.values()],
                                 ref_template="#/components/schemas/{model}")
    limits = (f"Limits: {s.max_text_chars:,} characters per text, {s.max_texts} texts and {s.max_targets} targets "
              f"per request, {s.max_total_chars:,} characters in all, {s.max_body_bytes:,} bytes per body, "
              f"{s.max_glossaries} glossaries.")
    return {
        "openapi": "3.1.0",
        "info": {"title": "asean-mt", "version": __version__,
                 "description": "Translation and summarisation for ASEAN public-sector text. " + limits},
        "paths": paths,
        "components": {
            "schemas": {**defs.get("$defs", {}), "Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "web pages: signed in at /login"},
                "deeplAuthKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                                 "description": "DeepL's clients: `DeepL-Auth-Key KEY` (the same keys)"},
            },
        },
    }


@bp.get("/openapi.json")
@route("This document (OpenAPI 3.1)", group="docs", tags=("operations",))
def openapi() -> Response:
    return jsonify(build_document())


@bp.get("/docs")
@route("Web page: the API documentation", group="docs", produces="text/html", tags=("web",))
def docs() -> str:
    return render_template("docs.html", doc=build_document())
