"""Glossaries over HTTP: ``/v1/glossaries`` (JSON API) and ``/glossaries`` (web pages).

Reads are open like the rest of the API (the ``glossaries`` route group of ``public_endpoints``); every write
needs an admin key (route policy ``admin=True``, enforced in ``service.http.policy``), is recorded as a new
version under that key's name, and is used by this worker's next request and every other worker's within
``glossary_refresh_s``. Built-in glossaries (files in ``glossary_dir``) are read-only here. A file upload is
read whole and checked whole: a file with any problem changes nothing, and the answer lists the problems with
their places (``file:line``, ``file:sheet:row``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service import languages
from service.errors import (
    GlossariesUnavailable,
    GlossaryConflict,
    GlossaryNotFound,
    InvalidInput,
    UnsupportedLanguage,
    counted,
)
from service.http.bodies import FORM, JSON, MULTIPART, parse_json, validate
from service.http.errors import ApiError, respond
from service.http.policy import PAGE, body, caller, route
from service.http.schemas import GlossaryName, LanguageCode, Strict
from service.http.state import current_service
from service.http.web import csrf_token
from service.terminology import formats
from service.terminology.glossary import EMPTY, Entry, Glossary
from service.terminology.registry import GlossaryRegistry
from service.terminology.store import GlossaryInfo, ManagedGlossaries, entry_json
from service.validation import CleanText

bp = Blueprint("glossaries", __name__)
#: Problems listed in an answer about a bad file (the count says how many there were in all).
MAX_PROBLEMS_SHOWN = 100
#: Entries per page of /entries (and the most a request may ask for).
PAGE_SIZE, MAX_PAGE = 100, 1000
TermText = Annotated[CleanText, StringConstraints(min_length=1, max_length=1000)]
Forms = dict[LanguageCode, list[TermText]]


class EntryBody(Strict):
    forms: Forms = Field(description="language -> forms; the first is produced, the others are matched too",
                         examples=[{"id": ["kota cerdas"], "en": ["smart city"]}])
    deprecated: Forms = Field(default_factory=dict, description="language -> forms matched but never produced")
    dnt: bool = Field(False, description="do not translate: the source form is kept in every target")
    case_sensitive: bool = False
    note: CleanText = Field("", max_length=2000)


class EntryPatch(Strict):
    forms: Forms | None = None
    deprecated: Forms | None = None
    dnt: bool | None = None
    case_sensitive: bool | None = None
    note: CleanText | None = Field(None, max_length=2000)


class GlossaryBody(Strict):
    name: GlossaryName
    description: CleanText = Field("", max_length=2000)
    languages: list[LanguageCode] | None = Field(None, description="the languages, the source side first")
    entries: list[EntryBody] = Field(min_length=1)


class ReplaceBody(Strict):
    description: CleanText | None = Field(None, max_length=2000)
    languages: list[LanguageCode] | None = None
    entries: list[EntryBody] = Field(min_length=1)


class GlossaryUpload(BaseModel):
    """A glossary file as a multipart form (curl -F, the web page)."""

    model_config = ConfigDict(extra="ignore")  # api_key, csrf_token
    file: bytes = Field(description="CSV, TSV, TBX or XLSX")
    name: str = Field("", description="the glossary's name (for POST; default: the file's name)")
    description: str = ""
    languages: str = Field("", description="the languages, comma-separated, the source side first")


class RollbackBody(Strict):
    version: int = Field(ge=1)


class RollbackForm(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: int = Field(ge=1)


@bp.errorhandler(GlossaryNotFound)
def _not_found(error: GlossaryNotFound) -> Response:
    """Here a glossary or an entry that does not exist is the resource asked for: 404 (a translation that names
    an unknown glossary is a bad request, 400, as before)."""
    return respond(404, error.code, error.message, **error.details)


# -- reading bodies ----------------------------------------------------------------------------------------
def _codes(values: list[str] | None) -> list[str]:
    return [languages.normalize(v) for v in values or []]


def _forms(raw: dict[str, list[str]] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for lang, forms in (raw or {}).items():
        code = languages.normalize(lang)
        cleaned = tuple(dict.fromkeys(" ".join(f.split()) for f in forms))
        if cleaned:
            out[code] = out.get(code, ()) + cleaned
    return out


def to_entry(data: EntryBody) -> Entry:
    return Entry(_forms(data.forms), data.dnt, data.case_sensitive, data.note.strip(), "",
                 _forms(data.deprecated) or EMPTY)


_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Entry ids, versions and offsets beyond this are no row (and no database is asked about them).
MAX_NUMBER = 2**31 - 1


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ApiError(422, "validation_error", "A glossary's name has 1 to 64 letters, digits, '.', '_' or '-'.",
                       problems=[{"field": "name", "problem": "1 to 64 of A-Z a-z 0-9 . _ -"}])
    return name


def _problems(problems: list[str]) -> ApiError:
    return ApiError(422, "glossary_invalid", f"The glossary has {counted(len(problems), 'problem')}: {problems[0]}",
                    problems=problems[:MAX_PROBLEMS_SHOWN], problems_total=len(problems))


def _from_entries(name: str, entries: list[EntryBody], langs: list[str] | None) -> Glossary:
    built = [to_entry(e) for e in entries]
    order = list(dict.fromkeys([*_codes(langs), *(lang for e in built for lang in (*e.forms, *e.deprecated))]))
    problems = []
    seen: dict[str, int] = {}
    for n, entry in enumerate(built, 1):
        if not any(entry.forms.values()) and not any(entry.deprecated.values()):
            problems.append(f"entries:{n}: an entry needs at least one form")
            continue
        for form in entry.source_forms(order[0]):
            key = form if entry.case_sensitive else form.casefold()
            if key in seen:
                problems.append(f"entries:{n}: duplicate source term {form!r} ({order[0]}), already in entry "
                                f"{seen[key]}")
            seen[key] = n
    if problems:
        raise _problems(problems)
    return Glossary(name, tuple(built), languages=tuple(order))


def _from_upload(default_name: str) -> tuple[str, str | None, Glossary]:
    """(name, description, glossary) from a multipart upload; every problem of the file is a 422."""
    form = validate(GlossaryUpload, {**request.form.to_dict(), "file": b""} if "file" in request.files
                    else request.form.to_dict())
    upload = request.files["file"]
    file_name = upload.filename or "upload.csv"
    name = check_name(form.name.strip() or default_name or file_name.split(".")[0])
    data = upload.read()
    glossary, problems = formats.read_glossary(data, file_name, name)
    if problems:
        raise _problems(problems)
    langs = _codes([c.strip() for c in form.languages.split(",") if c.strip()])
    if langs:
        glossary = Glossary(name, glossary.entries, languages=tuple(dict.fromkeys([*langs, *glossary.languages])))
    return name, form.description.strip() or None, glossary


def read_create() -> tuple[str, str | None, Glossary]:
    """POST /v1/glossaries: JSON entries, or a file (multipart)."""
    s = current_service().settings
    if request.mimetype == MULTIPART:
        if "file" not in request.files:
            raise InvalidInput("Send the glossary as a file field named 'file' (CSV, TSV, TBX or XLSX).")
        return _from_upload("")
    data = validate(GlossaryBody, parse_json(s.max_json_depth))
    return data.name, data.description, _from_entries(data.name, data.entries, data.languages)


def read_replace() -> tuple[str, str | None, Glossary]:
    s = current_service().settings
    name = check_name((request.view_args or {}).get("name", ""))
    if request.mimetype == MULTIPART:
        if "file" not in request.files:
            raise InvalidInput("Send the glossary as a file field named 'file' (CSV, TSV, TBX or XLSX).")
        return _from_upload(name)
    data = validate(ReplaceBody, parse_json(s.max_json_depth))
    return name, data.description, _from_entries(name, data.entries, data.languages)


def max_upload(s: Any) -> int:
    return s.max_glossary_upload_bytes


# -- helpers -----------------------------------------------------------------------------------------------
def registry() -> GlossaryRegistry:
    return current_service().pipeline.glossaries


def managed() -> ManagedGlossaries:
    store = registry().managed
    if store is None:
        raise ApiError(503, "glossaries_unavailable", "Managed glossaries are not configured on this server.")
    return store


def author() -> str:
    who = caller()
    return who.key.name if who.key is not None else "anonymous"


def _writable(name: str) -> ManagedGlossaries:
    if registry().is_builtin(name):
        raise GlossaryConflict(f"{name} is a built-in glossary (a file in the glossary folder) and is read-only "
                               "here; edit the file, or import it under another name to manage it here.",
                               glossary=name)
    return managed()


def _check_size(glossary: Glossary) -> None:
    s = current_service().settings
    if not glossary.entries:
        raise ApiError(422, "glossary_invalid", "The glossary has no entries.", problems=["the file has no entries"])
    if len(glossary.entries) > s.max_glossary_entries:
        raise ApiError(413, "input_too_large", f"The glossary has {len(glossary.entries):,} entries; the limit is "
                       f"{s.max_glossary_entries:,}.", limit=s.max_glossary_entries, setting="max_glossary_entries")


def _glossary(name: str) -> Glossary:
    """A built-in or managed glossary (404 when there is none of that name)."""
    try:
        return registry().get(name)
    except GlossaryNotFound:
        raise ApiError(404, "glossary_not_found", f"No glossary named {name!r}.",
                       available=registry().names()) from None


def _summary(g: Glossary, defaults: list[str], info: GlossaryInfo | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": g.name, "usable": True, "entries": len(g.entries), "languages": list(g.languages),
                           "version": g.version, "default": g.name in defaults, "managed": g.managed,
                           "description": g.description}
    if info is not None:
        out.update(info.to_dict())
        out["default"] = g.name in defaults
    return out


def list_all() -> tuple[list[dict[str, Any]], bool]:
    """Every glossary (built-in and managed), and whether the managed ones could be listed."""
    reg = registry()
    defaults = current_service().settings.default_glossary_names
    out: list[dict[str, Any]] = []
    for name in reg.builtin.names():
        if name in reg.builtin.broken:
            out.append({"name": name, "usable": False, "managed": False,
                        "problems": reg.builtin.broken[name].details.get("problems", [])})
        else:
            out.append(_summary(reg.builtin.glossaries[name], defaults))
    reachable = True
    if reg.managed is not None:
        try:
            for info in reg.managed.list():
                out.append(info.to_dict() | {"usable": True, "default": info.name in defaults})
        except GlossariesUnavailable:
            reachable = False
    return sorted(out, key=lambda g: g["name"]), reachable


def _search(g: Glossary, query: str, offset: int, limit: int) -> tuple[int, list[Entry]]:
    if g.managed:
        return managed().entries(g.name, query, offset, limit)
    entries = [e if e.id is not None else _numbered(e, i) for i, e in enumerate(g.entries, 1)]
    q = query.strip().casefold()
    if q:
        entries = [e for e in entries if any(q in f.casefold() for forms in (*e.forms.values(),
                                                                          *e.deprecated.values()) for f in forms)]
    return len(entries), entries[offset:offset + limit]


def _numbered(entry: Entry, number: int) -> Entry:
    return Entry(entry.forms, entry.dnt, entry.case_sensitive, entry.note, entry.origin, entry.deprecated,
                 entry.info, number)


def _paging() -> tuple[str, int, int]:
    try:
        offset = min(MAX_NUMBER, max(0, int(request.args.get("offset", "0"))))
        limit = min(MAX_PAGE, max(1, int(request.args.get("limit", str(PAGE_SIZE)))))
    except ValueError:
        raise ApiError(400, "invalid_request", "offset and limit must be whole numbers.") from None
    query = request.args.get("q", "")
    if len(query) > 200 or "\x00" in query:
        raise ApiError(400, "invalid_request", "q is a term (at most 200 characters) to look for.")
    return query, offset, limit


def _version_arg(name: str) -> int | None:
    raw = request.args.get("version")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "invalid_request", "version must be a version number (1, 2, ...).")
    return int(raw)


def _changed(name: str, version: int | None) -> None:
    registry().changed(name, version)


PAGING = {"q": ({"type": "string"}, "a term to look for, in any language and any case"),
          "offset": ({"type": "integer", "minimum": 0}, "entries to skip"),
          "limit": ({"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"entries per page ({PAGE_SIZE})")}
TAGS = ("glossaries",)


# -- the JSON API ------------------------------------------------------------------------------------------
@bp.get("/v1/glossaries")
@route("The glossaries: built-in and managed, size, languages, version (or their problems)", group="glossaries",
       tags=TAGS)
def list_glossaries() -> Response:
    found, reachable = list_all()
    out: dict[str, Any] = {"glossaries": found}
    if not reachable:
        out["managed_unavailable"] = True
    return jsonify(out)


@bp.post("/v1/glossaries")
@route("Create a managed glossary: a file (CSV, TSV, TBX, XLSX; multipart) or JSON entries", admin=True,
       read=read_create, bodies={JSON: GlossaryBody, MULTIPART: GlossaryUpload}, max_bytes=max_upload, status=201,
       errors=(409, 503), tags=TAGS,
       description="Version 1 of the glossary, recorded under the API key's name. A file with any problem "
                   "creates nothing: 422 lists the problems as file:line (file:sheet:row for spreadsheets).")
def create_glossary() -> Response:
    name, description, glossary = body()
    _check_size(glossary)
    if registry().is_builtin(name):
        raise GlossaryConflict(f"{name} is the name of a built-in glossary; choose another name.", glossary=name)
    info = managed().create(name, list(glossary.entries), list(glossary.languages), author(), description or "",
                            action="created from " + (request.files["file"].filename or "a file")
                            if request.mimetype == MULTIPART else "created from JSON entries")
    _changed(name, info.version)
    response = jsonify(info.to_dict())
    response.status_code = 201
    response.headers["Location"] = url_for("glossaries.get_glossary", name=name)
    return response


@bp.put("/v1/glossaries/<name>")
@route("Replace a managed glossary's entries (a new version; created if there is none of that name)", admin=True,
       read=read_replace, bodies={JSON: ReplaceBody, MULTIPART: GlossaryUpload}, max_bytes=max_upload,
       errors=(409, 503), tags=TAGS,
       description="Entries with the same source term keep their ids; the version records who and when.")
def replace_glossary(name: str) -> Response:
    _, description, glossary = body()
    _check_size(glossary)
    store = _writable(name)
    try:
        info = store.replace(name, list(glossary.entries), list(glossary.languages), author(), description)
    except GlossaryNotFound:
        info = store.create(name, list(glossary.entries), list(glossary.languages), author(), description or "")
    _changed(name, info.version)
    return jsonify(info.to_dict())


@bp.get("/v1/glossaries/<name>")
@route("One glossary: its description, version and entries (the first 1,000; /entries pages through all)",
       group="glossaries", errors=(503,), tags=TAGS)
def get_glossary(name: str) -> Response:
    g = _glossary(name)  # a broken built-in glossary raises GlossaryInvalid: 503 with its problems
    total, entries = _search(g, "", 0, MAX_PAGE)
    return jsonify({"name": g.name, "version": g.version, "languages": list(g.languages), "managed": g.managed,
                    "description": g.description, "entries_total": total,
                    "entries": [entry_json(e) for e in entries]})


@bp.delete("/v1/glossaries/<name>")
@route("Delete a managed glossary and its history", admin=True, errors=(409, 503), tags=TAGS)
def delete_glossary(name: str) -> Response:
    _writable(name).delete(name)
    _changed(name, None)
    return jsonify({"name": name, "deleted": True})


@bp.get("/v1/glossaries/<name>/entries")
@route("A glossary's entries, a page at a time, searchable by term in any language", group="glossaries",
       query=PAGING, errors=(503,), tags=TAGS)
def list_entries(name: str) -> Response:
    query, offset, limit = _paging()
    g = _glossary(name)
    total, entries = _search(g, query, offset, limit)
    out: dict[str, Any] = {"name": g.name, "version": g.version, "total": total, "offset": offset, "limit": limit,
                           "entries": [entry_json(e) for e in entries]}
    if offset + limit < total:
        out["next"] = url_for("glossaries.list_entries", name=name, q=query or None, offset=offset + limit,
                              limit=limit)
    return jsonify(out)


@bp.post("/v1/glossaries/<name>/entries")
@route("Add an entry to a managed glossary (a new version)", admin=True, read=lambda: _json(EntryBody),
       bodies={JSON: EntryBody}, status=201, errors=(409, 503), tags=TAGS)
def add_entry(name: str) -> Response:
    entry, version = _writable(name).add_entry(name, to_entry(body()), author())
    _changed(name, version)
    response = jsonify(entry_json(entry) | {"version": str(version)})
    response.status_code = 201
    return response


@bp.get("/v1/glossaries/<name>/entries/<int:entry_id>")
@route("One entry of a glossary", group="glossaries", errors=(503,), tags=TAGS)
def get_entry(name: str, entry_id: int) -> Response:
    g = _glossary(name)
    if g.managed:
        return jsonify(entry_json(managed().entry(name, entry_id)))
    if not 1 <= entry_id <= len(g.entries):
        raise ApiError(404, "glossary_not_found", f"{name} has no entry {entry_id}.")
    return jsonify(entry_json(_numbered(g.entries[entry_id - 1], entry_id)))


def _json(model: type[BaseModel]) -> Any:
    return validate(model, parse_json(current_service().settings.max_json_depth))


@bp.put("/v1/glossaries/<name>/entries/<int:entry_id>")
@route("Replace one entry of a managed glossary (a new version)", admin=True, read=lambda: _json(EntryBody),
       bodies={JSON: EntryBody}, errors=(409, 503), tags=TAGS)
def put_entry(name: str, entry_id: int) -> Response:
    entry, version = _writable(name).update_entry(name, entry_id, to_entry(body()), author())
    _changed(name, version)
    return jsonify(entry_json(entry) | {"version": str(version)})


@bp.patch("/v1/glossaries/<name>/entries/<int:entry_id>")
@route("Change some fields of one entry of a managed glossary (a new version)", admin=True,
       read=lambda: _json(EntryPatch), bodies={JSON: EntryPatch}, errors=(409, 503), tags=TAGS)
def patch_entry(name: str, entry_id: int) -> Response:
    store = _writable(name)
    old = store.entry(name, entry_id)
    change: EntryPatch = body()
    new = Entry(_forms(change.forms) if change.forms is not None else dict(old.forms),
                old.dnt if change.dnt is None else change.dnt,
                old.case_sensitive if change.case_sensitive is None else change.case_sensitive,
                old.note if change.note is None else change.note.strip(), "",
                (_forms(change.deprecated) or EMPTY) if change.deprecated is not None else old.deprecated, old.info)
    entry, version = store.update_entry(name, entry_id, new, author())
    _changed(name, version)
    return jsonify(entry_json(entry) | {"version": str(version)})


@bp.delete("/v1/glossaries/<name>/entries/<int:entry_id>")
@route("Delete one entry of a managed glossary (a new version)", admin=True, errors=(409, 503), tags=TAGS)
def delete_entry(name: str, entry_id: int) -> Response:
    version = _writable(name).delete_entry(name, entry_id, author())
    _changed(name, version)
    return jsonify({"id": entry_id, "deleted": True, "version": str(version)})


@bp.get("/v1/glossaries/<name>/versions")
@route("A managed glossary's versions: who changed what, when", group="glossaries", errors=(409, 503), tags=TAGS)
def list_versions(name: str) -> Response:
    g = _glossary(name)
    if not g.managed:
        return jsonify({"name": name, "versions": [{"version": g.version, "action": "file", "author": None,
                                                    "created_at": None, "entries": len(g.entries)}]})
    return jsonify({"name": name, "versions": [v.to_dict() for v in managed().history(name)]})


@bp.get("/v1/glossaries/<name>/diff")
@route("What changed between two versions of a managed glossary", group="glossaries", errors=(409, 503),
       query={"from": ({"type": "integer", "minimum": 1}, "the older version"),
              "to": ({"type": "integer", "minimum": 1}, "the newer version (default: the current one)")}, tags=TAGS)
def diff_versions(name: str) -> Response:
    store = _writable(name)
    info = store.info(name)
    try:
        old = int(request.args.get("from", "0"))
        new = int(request.args.get("to", str(info.version)))
    except ValueError:
        raise ApiError(400, "invalid_request", "from and to must be version numbers.") from None
    return jsonify(store.diff(name, old, new).to_dict())


@bp.post("/v1/glossaries/<name>/rollback")
@route("Make a new version of a managed glossary with an earlier version's entries", admin=True,
       read=lambda: _json(RollbackBody), bodies={JSON: RollbackBody}, errors=(409, 503), tags=TAGS)
def rollback(name: str) -> Response:
    info = _writable(name).rollback(name, body().version, author())
    _changed(name, info.version)
    return jsonify(info.to_dict())


@bp.get("/v1/glossaries/<name>/export")
@route("A glossary as a file: CSV or TBX (TBX-Basic)", group="glossaries", produces="text/csv,application/x-tbx+xml",
       query={"format": ({"type": "string", "enum": list(formats.FORMATS)}, "csv (default) or tbx"),
              "version": ({"type": "integer", "minimum": 1}, "a managed glossary's version (default: current)")},
       errors=(503,), tags=TAGS)
def export_glossary(name: str) -> Response:
    return _export(name)


def _export(name: str) -> Response:
    fmt = request.args.get("format", "csv")
    if fmt not in formats.FORMATS:
        raise ApiError(400, "invalid_request", f"format is one of {', '.join(formats.FORMATS)}.")
    g = _glossary(name)
    version = _version_arg(name)
    if g.managed and version is not None:
        g = managed().load(name, version)
    data, media, suffix = formats.export(g, fmt)
    response = Response(data, mimetype=media.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.v{g.version}{suffix}"'
    return response


# -- web pages ---------------------------------------------------------------------------------------------
def _may_edit() -> bool:
    return caller().admin or not current_service().keys.configured


def _list_page(error: str | None = None, status: int = 200) -> Response:
    found, reachable = list_all()
    page = render_template("glossaries.html", glossaries=found, reachable=reachable, may_edit=_may_edit(),
                           csrf_token=csrf_token(), error=error)
    return Response(page, status, mimetype="text/html")


def _glossary_page(name: str, error: str | None = None, status: int = 200) -> Response:
    query, offset, limit = _paging()
    g = _glossary(name)
    total, entries = _search(g, query, offset, limit)
    history = managed().history(name) if g.managed else []
    languages_shown = list(dict.fromkeys([*g.languages, *(lang for e in entries for lang in e.forms)]))
    page = render_template("glossary.html", g=g, entries=entries, total=total, query=query, offset=offset,
                           limit=limit, history=history, may_edit=_may_edit() and g.managed,
                           langs=languages_shown, all_languages=list(languages.LANGUAGES.values()),
                           csrf_token=csrf_token(), error=error)
    return Response(page, status, mimetype="text/html")


@bp.get("/glossaries")
@route("Web page: the glossaries, and (admins) a form to upload one", access=PAGE, produces="text/html",
       tags=("web",))
def glossaries_page() -> Response:
    return _list_page()


@bp.post("/glossaries")
@route("Web page: upload a glossary file (a new glossary, or a new version of one)", access=PAGE, admin=True,
       csrf=True, read=lambda: _from_upload(""), bodies={MULTIPART: GlossaryUpload}, max_bytes=max_upload,
       produces="text/html", status=303, page=lambda message, status: _list_page(message, status), tags=("web",))
def glossaries_upload() -> Response:
    name, description, glossary = body()
    _check_size(glossary)
    store = _writable(name)
    file_name = request.files["file"].filename or "a file"
    try:
        info = store.replace(name, list(glossary.entries), list(glossary.languages), author(), description,
                             action=f"replaced from {file_name}")
    except GlossaryNotFound:
        info = store.create(name, list(glossary.entries), list(glossary.languages), author(), description or "",
                            action=f"created from {file_name}")
    _changed(name, info.version)
    return redirect(url_for("glossaries.glossary_page", name=name), code=303)


@bp.get("/glossaries/<name>")
@route("Web page: one glossary's entries, searchable; (admins) edit them", access=PAGE, produces="text/html",
       query=PAGING, tags=("web",))
def glossary_page(name: str) -> Response:
    return _glossary_page(name)


class EntryForm(BaseModel):
    """An entry as the web page sends it: one field per language (variants separated by |)."""

    model_config = ConfigDict(extra="allow")
    action: str = Field("save", description="save or delete")
    dnt: str | None = None
    case_sensitive: str | None = None
    note: str = Field("", max_length=2000)


def read_entry_form() -> tuple[str, Entry | None]:
    form = validate(EntryForm, request.form.to_dict())
    if form.action == "delete":
        return "delete", None
    forms: dict[str, tuple[str, ...]] = {}
    deprecated: dict[str, tuple[str, ...]] = {}
    for key, value in request.form.items():
        kind, _, lang = key.partition(":")
        if kind not in ("form", "deprecated") or not value.strip():
            continue
        try:
            code = languages.normalize(lang)
        except UnsupportedLanguage:
            raise ApiError(400, "invalid_input", f"Unknown language {lang!r}.") from None
        variants = tuple(dict.fromkeys(" ".join(v.split()) for v in value.split("|") if v.strip()))
        (forms if kind == "form" else deprecated)[code] = variants
    return "save", Entry(forms, form.dnt == "on", form.case_sensitive == "on", form.note.strip(), "",
                         deprecated or EMPTY)


@bp.post("/glossaries/<name>/entries")
@route("Web page: add an entry", access=PAGE, admin=True, csrf=True, read=read_entry_form,
       bodies={FORM: EntryForm}, produces="text/html", status=303,
       page=lambda message, status: _glossary_page((request.view_args or {})["name"], message, status),
       tags=("web",))
def entry_add(name: str) -> Response:
    _, entry = body()
    assert entry is not None
    _, version = _writable(name).add_entry(name, entry, author())
    _changed(name, version)
    return redirect(url_for("glossaries.glossary_page", name=name, q=request.args.get("q") or None), code=303)


@bp.post("/glossaries/<name>/entries/<int:entry_id>")
@route("Web page: save or delete an entry", access=PAGE, admin=True, csrf=True, read=read_entry_form,
       bodies={FORM: EntryForm}, produces="text/html", status=303,
       page=lambda message, status: _glossary_page((request.view_args or {})["name"], message, status),
       tags=("web",))
def entry_save(name: str, entry_id: int) -> Response:
    action, entry = body()
    store = _writable(name)
    if action == "delete":
        version = store.delete_entry(name, entry_id, author())
    else:
        assert entry is not None
        old = store.entry(name, entry_id)
        entry = Entry(entry.forms, entry.dnt, entry.case_sensitive, entry.note, "", entry.deprecated, old.info)
        _, version = store.update_entry(name, entry_id, entry, author())
    _changed(name, version)
    return redirect(url_for("glossaries.glossary_page", name=name, q=request.args.get("q") or None), code=303)


@bp.post("/glossaries/<name>/rollback")
@route("Web page: restore an earlier version (as a new version)", access=PAGE, admin=True, csrf=True,
       read=lambda: validate(RollbackForm, request.form.to_dict()), bodies={FORM: RollbackForm},
       produces="text/html", status=303,
       page=lambda message, status: _glossary_page((request.view_args or {})["name"], message, status),
       tags=("web",))
def rollback_page(name: str) -> Response:
    info = _writable(name).rollback(name, body().version, author())
    _changed(name, info.version)
    return redirect(url_for("glossaries.glossary_page", name=name), code=303)


@bp.get("/glossaries/<name>/export")
@route("Web page: download a glossary (CSV or TBX)", access=PAGE, produces="text/csv,application/x-tbx+xml",
       query={"format": ({"type": "string", "enum": list(formats.FORMATS)}, "csv (default) or tbx"),
              "version": ({"type": "integer", "minimum": 1}, "a managed glossary's version")}, tags=("web",))
def export_page(name: str) -> Response:
    return _export(name)
