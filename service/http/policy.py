"""Route policies: who may call a route, how its body is read and validated, and what it costs, declared
next to the view with ``@route(...)`` and enforced for every request in one place (:func:`enforce`, the
app's first ``before_request``). The OpenAPI document is generated from the same declarations.

A view without a policy cannot be served: :func:`check_routes` refuses it when the app is created, so a new
route cannot forget authentication, the rate limit, its body's validation or its documentation.

Access:
- ``PUBLIC``: always open. Only health checks, static files and the sign-in page (``ALWAYS_PUBLIC``).
- ``KEY``: an API key when ``require_api_key`` is on (an invalid key is refused whatever the setting). With a
  ``group``, the route is open anyway when the group is listed in the ``public_endpoints`` setting.
- ``PAGE``: a web page. As KEY, but the key may also come from the signed-in session (``/login``); a
  visitor without one is sent to the sign-in page instead of getting a 401.

``admin=True`` (with KEY or PAGE): a write that changes what every caller gets (managed glossaries) needs a key
with the admin role: 403 ``admin_required`` for other keys (a web visitor without a key is sent to sign in).
A server with no keys configured at all is a single-user server: its admin routes are open like the rest.

Order for each request: the body size limit, the cross-site check, the caller (key, session), the CSRF
token (forms of our pages), the body (read and validated), then the cost charged to the caller's rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, redirect, request, url_for
from pydantic import BaseModel

from service.config import Settings
from service.errors import ConfigError
from service.http.errors import ApiError
from service.http.security import Caller, identify, presented_key, same_origin

PUBLIC, KEY, PAGE = "public", "key", "page"
#: The groups of routes an operator may leave open without a key (setting ``public_endpoints``).
GROUPS = ("docs", "languages", "glossaries", "metrics")
#: The only endpoints that are always open. A test walks every route against this list.
ALWAYS_PUBLIC = frozenset({"health.healthz", "health.readyz", "static", "web.favicon", "web.login", "web.login_submit"})
#: Request bodies a browser sends cross-site without asking first (no CORS preflight).
SIMPLE_BODIES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

V = TypeVar("V", bound=Callable[..., Any])


@dataclass(frozen=True)
class Policy:
    summary: str
    access: str = KEY
    #: with KEY or PAGE: the public_endpoints group that opens this route without a key
    group: str | None = None
    #: only keys with the admin role (when keys are configured); never opened by a group
    admin: bool = False
    #: reads and validates the body; the result is ``g.body`` (views call :func:`body`)
    read: Callable[[], Any] | None = None
    #: media type -> the model that validates (and documents) a body sent that way
    bodies: dict[str, type[BaseModel]] = field(default_factory=dict)
    #: characters charged to the caller's rate limit, from the validated body; it also checks the request limits
    cost: Callable[[Any, Settings], int] | None = None
    #: the body size limit when it is not max_body_bytes (uploads)
    max_bytes: Callable[[Settings], int] | None = None
    #: forms of our own pages carry a CSRF token
    csrf: bool = False
    description: str = ""
    #: what a successful answer is: media type, status
    produces: str = "application/json"
    status: int = 200
    #: query parameters: name -> (JSON schema, description)
    query: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    #: statuses this route may answer besides those the policy implies (e.g. 502/503 from engines)
    errors: tuple[int, ...] = ()
    #: renders an error inline on the page (web forms) instead of the JSON body
    page: Callable[[str, int], Response] | None = None
    #: answers every error of this route in another API's shape and status codes (status, code, message) ->
    #: response: DeepL's ``{"message": ...}`` for its clients (``service.http.deepl``)
    errors_as: Callable[[int, str, str], Response] | None = None
    tags: tuple[str, ...] = ()
    #: LibreTranslate's origin rule: without a key, a request whose Origin matches the setting api_key_origin is let
    #: through even when keys are required (its own web front end on another host)
    origin_rule: bool = False


def origin_exempt(pattern: str) -> bool:
    """Whether this request's Origin header matches ``pattern`` (LibreTranslate's --require-api-key-origin, a regular
    expression matched at the start). Any client can send any Origin: this opens the route to them, as it does in
    LibreTranslate; it is for a browser front end served from another host, not a security boundary."""
    import re

    origin = request.headers.get("Origin", "")
    return bool(pattern) and bool(origin) and re.match(pattern, origin) is not None


def route(summary: str, **options: Any) -> Callable[[V], V]:
    """Declare a view's policy: ``@bp.post(...)`` above, ``@route(...)`` below it."""
    policy = Policy(summary, **options)

    def attach(view: V) -> V:
        view.policy = policy  # type: ignore[attr-defined]
        return view

    return attach


STATIC = Policy("Static files (style sheet)", access=PUBLIC, produces="text/css", tags=("web",))


def policy_of(app: Flask, endpoint: str) -> Policy | None:
    if endpoint == "static":
        return STATIC
    return getattr(app.view_functions.get(endpoint), "policy", None)


def check_routes(app: Flask, public_endpoints: str = "") -> None:
    """Every route has a policy, PUBLIC only for ``ALWAYS_PUBLIC``; the public_endpoints groups exist."""
    for rule in app.url_map.iter_rules():
        policy = policy_of(app, rule.endpoint)
        if policy is None:
            raise ConfigError(f"Route {rule.rule} ({rule.endpoint}) has no policy: declare one with @route(...).")
        if policy.access == PUBLIC and rule.endpoint not in ALWAYS_PUBLIC:
            raise ConfigError(f"Route {rule.rule} is public but not in policy.ALWAYS_PUBLIC.")
        if policy.group is not None and policy.group not in GROUPS:
            raise ConfigError(f"Route {rule.rule} names an unknown group {policy.group!r}.")
        if policy.admin and (policy.access == PUBLIC or policy.group is not None):
            raise ConfigError(f"Route {rule.rule} is for admins: it cannot be public or in a public group.")
    unknown = set(public_groups(public_endpoints)) - set(GROUPS)
    if unknown:
        raise ConfigError(f"public_endpoints lists unknown groups ({', '.join(sorted(unknown))}); the groups are "
                          f"{', '.join(GROUPS)}.")


def public_groups(spec: str) -> list[str]:
    return [g.strip() for g in spec.split(",") if g.strip()]


def body() -> Any:
    """The validated body of this request (read by its policy)."""
    return g.body


def caller() -> Caller:
    return g.caller


def enforce() -> Response | None:
    """The app's first before_request: everything a route's policy declares, for every request."""
    from service.http.bodies import parse_json
    from service.http.state import current_service
    from service.http.web import check_csrf

    if request.endpoint is None:  # 404 and 405: the error handlers answer
        return None
    policy = policy_of(current_app, request.endpoint)
    if policy is None:  # check_routes makes this unreachable; never serve a route nobody declared
        raise RuntimeError(f"no policy for {request.endpoint}")
    g.policy = policy
    state = current_service()
    s = state.settings
    if policy.max_bytes is not None:
        request.max_content_length = policy.max_bytes(s)

    json_body = (lambda: parse_json(s.max_json_depth)) if request.is_json else None
    exempt = policy.origin_rule and origin_exempt(s.api_key_origin)  # LibreTranslate's front end elsewhere
    if request.method not in SAFE_METHODS and request.mimetype in SIMPLE_BODIES and not same_origin() and (
            policy.access == PUBLIC or presented_key(json_body) is None) and not exempt:
        raise ApiError(403, "cross_site_request", "This request comes from another web site's page; send an API "
                       "key, or use this server's own pages.")
    if policy.access == PUBLIC:
        g.caller = Caller(None, request.remote_addr or "unknown")
    else:
        required = s.require_api_key and not (policy.group is not None and policy.group in public_groups(
            s.public_endpoints)) and not exempt
        try:
            g.caller = identify(state.keys, required, json_body, use_session=policy.access == PAGE)
        except ApiError as exc:
            if policy.access == PAGE and exc.code == "api_key_required":
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")), code=303)
            raise
    if policy.admin and state.keys.configured and not g.caller.admin:
        if policy.access == PAGE and g.caller.key is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")), code=303)
        raise ApiError(403, "admin_required", "This change needs an API key with the admin role (an operator makes "
                       "one with `python -m service keys new --role admin`).")
    if policy.csrf:
        check_csrf()
    if policy.read is not None:
        g.body = policy.read()
    if policy.cost is not None:
        state.rate_limit.charge_request(g.caller)
        state.rate_limit.charge(g.caller, policy.cost(g.body, s))
    return None
