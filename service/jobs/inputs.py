"""Documents from files: JSONL (``{"id": ..., "text": ...}`` a line), CSV (columns ``id`` and ``text``), or
plain .txt files (one document each, named by the file). Problems name the file and line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from service.errors import InvalidInput
from service.jobs.store import NewDocument
from service.validation import DEFAULT_JSON_DEPTH, JsonInvalid, check_text, loads_json


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text.") from None


def _document(where: str, doc_id: str, text: str) -> NewDocument:
    """The same text checks as every other input path (service.validation), reported with file and line."""
    try:
        return NewDocument(check_text(doc_id), check_text(text))
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc}.") from None


def parse_file(name: str, data: bytes, max_depth: int = DEFAULT_JSON_DEPTH) -> list[NewDocument]:
    try:
        check_text(name)
    except ValueError as exc:
        raise InvalidInput(f"The file name {name!r} is not usable: {exc}.") from None
    suffix = Path(name).suffix.lower()
    text = _text(data, name)
    if suffix in (".jsonl", ".ndjson"):
        docs = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = loads_json(line, max_depth)
            except JsonInvalid as exc:
                raise InvalidInput(f"{name}:{n}: {exc}.") from None
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise InvalidInput(f"{name}:{n}: each line must be an object with a string \"text\".")
            doc_id = item.get("id", f"{Path(name).stem}:{n}")
            if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
                raise InvalidInput(f"{name}:{n}: \"id\" must be a string or a whole number.")
            docs.append(_document(f"{name}:{n}", str(doc_id), item["text"]))
        return docs
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text), dialect=csv.excel_tab if suffix == ".tsv" else csv.excel)
        try:
            if not reader.fieldnames or "text" not in reader.fieldnames:
                raise InvalidInput(f"{name}:1: the header must have a \"text\" column (and optionally \"id\").")
            return [_document(f"{name}:{n}", row.get("id") or f"{Path(name).stem}:{n}", row["text"] or "")
                    for n, row in enumerate(reader, 2)]
        except csv.Error:
            limit = csv.field_size_limit()
            raise InvalidInput(f"{name}:{reader.line_num + 1}: a CSV field is longer than {limit:,} characters; "
                               "send long documents as .txt or .jsonl.") from None
    if suffix in (".txt", ".md", ""):
        return [_document(name, name, text)]
    raise InvalidInput(f"{name}: unsupported file type; use .txt, .jsonl or .csv.")


def from_paths(paths: list[Path]) -> list[NewDocument]:
    """Files and folders (folders: every .txt/.jsonl/.csv inside, sorted) -> documents."""
    files: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in
                            (".txt", ".jsonl", ".ndjson", ".csv", ".tsv")):
                files.append((f, str(f.relative_to(path))))
        elif path.is_file():
            files.append((path, path.name))
        else:
            raise InvalidInput(f"{path} does not exist.")
    docs: list[NewDocument] = []
    for path, name in files:
        docs.extend(parse_file(name, path.read_bytes()))
    return docs
