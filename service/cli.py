"""Command line: ``python -m service translate|models|eval ...``.

Errors from the core are turned into one line on stderr and an exit code, here and only here; anything
unexpected too (one line with an incident id; ``-vv`` shows the traceback). Output into a pipe that closes
early (``| head``) ends quietly with 141, like other Unix tools killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from service import languages
from service.config import Settings, load_settings
from service.engines.base import DecodeOptions
from service.errors import (
    ConfigError,
    CorrectionsUnavailable,
    EngineFailed,
    GlossariesUnavailable,
    GlossaryInvalid,
    InvalidInput,
    JobsUnavailable,
    ModelDownloadFailed,
    ModelInvalid,
    ModelMissing,
    ServiceError,
    counted,
)
from service.flags import describe_flag

log = logging.getLogger("service")

#: Exit codes, one per error family (checked first match, so subclasses come before their bases).
EXIT_CODES: list[tuple[type[ServiceError], int]] = [
    (InvalidInput, 2), (ModelMissing, 3), (ModelDownloadFailed, 4), (ModelInvalid, 5), (EngineFailed, 5),
    (ConfigError, 6), (GlossaryInvalid, 6), (JobsUnavailable, 7), (GlossariesUnavailable, 7),
    (CorrectionsUnavailable, 7), (ServiceError, 1),
]
#: Output pipe closed by the reader (``| head``): 128 + SIGPIPE, what a shell reports for other tools.
EXIT_BROKEN_PIPE = 141


def exit_code(error: ServiceError) -> int:
    return next(code for cls, code in EXIT_CODES if isinstance(error, cls))


def _read_input(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text.") from exc
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from exc


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, models_dir=args.models_dir)


def _pipeline(settings: Settings):
    from service.engines.router import EngineRouter
    from service.pipeline import Pipeline

    return Pipeline(settings, EngineRouter(settings))


# -- translate -------------------------------------------------------------------------------------
class Reports:
    """Where the human-readable reports go (headers, notes, term reports, the status table): stderr by default,
    a file with ``--report FILE``, nowhere with ``-q``. Standard output is kept for the translation itself."""

    def __init__(self, args: argparse.Namespace):
        self._file = None
        self.quiet = bool(getattr(args, "quiet", False))
        if getattr(args, "report", None) and not self.quiet:
            try:
                self._file = open(args.report, "w", encoding="utf-8")  # closed in close()
            except OSError as exc:
                raise InvalidInput(f"Cannot write the report file {args.report}: {exc.strerror}.") from exc

    def __call__(self, line: str = "") -> None:
        if not self.quiet:
            print(line, file=self._file or sys.stderr)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _result_json(r) -> dict[str, object]:
    return r.to_dict(stats=True)  # the API's shape, with counts and timings


def _output_name(path: str) -> str:
    """``examples/ascn-shepherd-2025.id.txt`` -> ``ascn-shepherd-2025`` (``-`` -> ``stdin``)."""
    if path == "-":
        return "stdin"
    name = Path(path).name
    stem, _, suffix = name.rpartition(".")
    name = stem if stem and suffix.lower() in ("txt", "text", "md") else name
    base, _, lang = name.rpartition(".")
    if base:
        try:
            languages.normalize(lang)
            return base
        except ServiceError:
            pass
    return name


def _document_format(args: argparse.Namespace) -> str | None:
    """The document format of the input, or None for plain text (the text road, as ever)."""
    from service.documents import EXTENSIONS, format_of

    if args.input_format:
        fmt = format_of(args.file, args.input_format)
        return None if fmt == "text" else fmt
    if args.file == "-":
        return None
    fmt = EXTENSIONS.get(Path(args.file).suffix.lower())
    return None if fmt in (None, "text") else fmt


def cmd_translate(args: argparse.Namespace) -> int:
    from service.pipeline import TranslationRequest

    settings = _settings(args)
    fmt = _document_format(args)
    if fmt is not None:
        return _translate_document(args, settings, fmt)
    text = _read_input(args.file)
    options = DecodeOptions(beam_size=args.beam_size or settings.beam_size, n_best=args.n_best)
    request = TranslationRequest(text, languages.parse_list(args.to), args.source, options, _glossaries(args),
                                 _summary_options(args) if args.summary else None, layout=args.layout)
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"--out {out_dir} exists and is not a folder.")
    result = _pipeline(settings).translate(request)
    report = Reports(args)
    try:
        _write_translations(args, result, out_dir, report)
    finally:
        report.close()
    if any(r.ok for r in result.results):
        return 0
    error = result.results[0].error
    assert error is not None
    print(f"error: {error.message}", file=sys.stderr)
    return exit_code(error)


def _write_translations(args: argparse.Namespace, result, out_dir: Path | None, report: Reports) -> None:
    source_name = languages.get(result.source).name
    if result.detection is not None:
        why = {"source_prior": " (the source_prior setting)", "target": " (the other candidate is a target)"}
        report(f"source: {result.detection.describe()}"
               + (f"; translating from {source_name}{why.get(result.detection.by, '')}; give --from to be sure"
                  if result.detection.uncertain else ", detected"))
    payload = {"source": result.source, "detected": result.detected,
               "detection": result.detection.to_dict() if result.detection else None,
               "results": [_result_json(r) for r in result.results],
               "summary": result.summary.to_dict() if result.summary else None}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        name = _output_name(args.file)
        for r in result.results:
            if not r.ok:
                continue
            path = out_dir / f"{name}.{r.target}.{'json' if args.format == 'json' else 'txt'}"
            if args.format == "json":
                body = json.dumps({k: v for k, v in payload.items() if k != "results"} | {"result": _result_json(r)},
                                  ensure_ascii=False, indent=2) + "\n"
            else:
                body = r.text or ""
            path.write_text(body, encoding="utf-8")
            report(f"wrote {path}")
    elif args.format == "json":
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    single = len(result.results) == 1
    # with one target standard output is the translation alone; with several (and no --out) it carries every
    # translation and summary under a header, and the reports still go to stderr
    product = print if not single and out_dir is None and args.format == "text" else report
    if result.summary is not None:
        product(f"=== Summary, {source_name} [{_method(result.summary)}] ===")
        product(result.summary.text + "\n")
    origin = " (detected)" if result.detected else ""
    for r in result.results:
        if not r.ok:
            continue
        header = f"=== {source_name}{origin} -> {languages.get(r.target).name} [{r.engine}: {r.model}] ==="
        if out_dir is None and args.format == "text":
            if single:  # only the translation on stdout: `translate FILE --to ms > out.txt` works
                report(header)
                sys.stdout.write(r.text or "")
                if r.text and not r.text.endswith("\n"):
                    sys.stdout.write("\n")
            else:
                print(header)
                print(r.text.rstrip("\n") if r.text else "")
                report(header)  # the reports that follow on stderr say which target they are about
        elif not single:
            report(header)
        for flag in r.flags:
            report(f"note: {describe_flag(flag)}")
        if r.terms is not None and args.glossary_report != "none":
            report(_term_report(r.terms, full=args.glossary_report == "full"))
        if r.summary is not None:
            how = "source summary, translated" if r.summary.mode == "translate" else _method(r.summary)
            product(f"--- summary, {languages.get(r.target).name} [{how}]")
            product(r.summary.text)
            if r.summary.terms is not None and r.summary.terms.checks:
                report(f"    (glossary: {r.summary.terms.present}/{r.summary.terms.found} terms right)")
        if product is print:
            print()
    report()
    report(_table(result))


def _translate_document(args: argparse.Namespace, settings: Settings, fmt: str) -> int:
    """A document (HTML, DOCX, Markdown, subtitles, XLIFF, PO, PDF): NAME.<lang>.<ext> per target in --out (or, for
    one target and a text format, on stdout); the reports on stderr as for text."""
    from service.documents.road import translate_document

    if args.file == "-":
        raise InvalidInput("Documents are read from a file; give its name (or --input-format text for stdin).")
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {args.file}: {exc.strerror}.") from None
    targets = languages.parse_list(args.to)
    out_dir = Path(args.out) if args.out else None
    binary = fmt in ("docx", "pdf")
    if out_dir is None and (binary or len(targets) > 1):
        raise InvalidInput(f"Give --out DIR: the translated {'files' if len(targets) > 1 else 'file'} "
                           f"{'are' if len(targets) > 1 else 'is'} written there as NAME.<lang>.<ext>.")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"--out {out_dir} exists and is not a folder.")
    options = DecodeOptions(beam_size=args.beam_size or settings.beam_size)
    result = translate_document(_pipeline(settings), data, args.file, targets, args.source, options,
                                _glossaries(args), _summary_options(args) if args.summary else None,
                                input_format=fmt, pdf_output=args.pdf_as)
    report = Reports(args)
    try:
        if result.detection is not None:
            report(f"source: {result.detection.describe()}, detected")
        report(f"{result.name}: {result.format}, {result.units} text units, {result.characters:,} characters")
        if result.note:
            report(f"note: {result.note}")
        if result.summary is not None:
            report(f"=== Summary, {languages.get(result.source).name} ===\n{result.summary.text}\n")
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        for f in result.files:
            if not f.ok:
                continue
            if out_dir is not None:
                path = out_dir / (f.name or f"document.{f.target}")
                path.write_bytes(f.data or b"")
                report(f"wrote {path}")
            else:
                sys.stdout.buffer.write(f.data or b"")
                sys.stdout.flush()
            report(f"=== {languages.get(result.source).name} -> {languages.get(f.target).name} "
                   f"[{f.engine}: {f.model}] ===")
            for flag in f.flags:
                report(f"note: {describe_flag(flag)}")
            if f.terms is not None and args.glossary_report != "none":
                report(_term_report(f.terms, full=args.glossary_report == "full"))
            if f.summary is not None:
                report(f"--- summary, {languages.get(f.target).name}\n{f.summary.text}")
        report()
        rows = [("target", "engine", "status")] + [
            (f"{f.target} ({languages.get(f.target).name})", f"{f.engine}: {f.model}" if f.ok else "-",
             f"translated, {f.segments} sentences in {f.seconds:.1f} s" if f.ok else f.error.message)  # type: ignore[union-attr]
            for f in result.files]
        width = [max(len(row[i]) for row in rows) for i in range(2)]
        report("\n".join(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows))
    finally:
        report.close()
    if any(f.ok for f in result.files):
        return 0
    error = result.files[0].error
    assert error is not None
    print(f"error: {error.message}", file=sys.stderr)
    return exit_code(error)


def cmd_detect(args: argparse.Namespace) -> int:
    from service.pipeline import require_text

    settings = _settings(args)
    text = _read_input(args.file)
    require_text(text)
    detector = _pipeline(settings).detector
    blocks = text.splitlines() if args.lines else [text]
    found = []
    for block in blocks:
        if not block.strip():
            found.append(None)
            continue
        try:
            found.append(detector.detect(block))
        except ServiceError as exc:
            if not args.lines:
                raise
            found.append(exc)
    if args.format == "json":
        rows = [None if f is None else {"error": f.message, "code": f.code} if isinstance(f, ServiceError)
                else f.to_dict() for f in found]
        print(json.dumps(rows if args.lines else rows[0], ensure_ascii=False, indent=2))
        return 0
    for f in found:
        if f is None:
            print()
        elif isinstance(f, ServiceError):
            print(f"error\t{f.message}")
        elif f.uncertain:
            print("uncertain\t" + "\t".join(f"{c.language} {c.confidence:.2f}" for c in f.candidates)
                  + f"\tusing {f.language}")
        else:
            print(f"{f.language}\t{f.confidence:.2f}")
    return 0


def cmd_eval_detect(args: argparse.Namespace) -> int:
    from service.text.detect_eval import evaluate, items_of

    settings = _settings(args)
    detector = _pipeline(settings).detector
    language = languages.normalize(args.lang)
    lines = [line for path in args.files for line in _read_input(path).splitlines()]
    items = items_of(lines, args.paragraphs)
    if not items:
        raise InvalidInput("The files have no non-empty lines to detect.")
    unit = "line" if args.paragraphs <= 1 else f"{args.paragraphs} lines"
    print(f"one item = {unit}")
    print(evaluate(detector, language, items).format(args.examples))
    return 0


def _method(summary) -> str:
    return f"{summary.method}: {summary.model}" if summary.model else summary.method


def _summary_options(args: argparse.Namespace):
    from service.summaries.options import SummaryOptions

    return SummaryOptions(sentences=args.sentences, words=args.words, ratio=args.ratio, style=args.style,
                          method=args.method, mode=getattr(args, "summary_mode", "translate"),
                          include_headline=args.include_headline)


def cmd_summarize(args: argparse.Namespace) -> int:
    settings = _settings(args)
    text = _read_input(args.file)
    lang, summary = _pipeline(settings).summarize(text, args.lang, _summary_options(args))
    if args.format == "json":
        print(json.dumps(summary.to_dict() | {"language": lang}, ensure_ascii=False, indent=2))
    else:
        print(summary.text)
    return 0


def _glossaries(args: argparse.Namespace) -> list[str] | None:
    if args.no_glossary:
        return []
    if not args.glossary:
        return None
    return [name.strip() for value in args.glossary for name in value.split(",") if name.strip()]


def _term_report(report, full: bool = True) -> str:
    names = ", ".join(report.glossaries)
    if not report.glossaries:
        lines = []
    elif not report.checks:
        lines = [f"--- glossary {names}: no terms found"]
    else:
        lines = [f"--- glossary {names}: {report.present}/{report.found} terms right "
                 f"({100 * report.compliance:.0f}%)"]
    if full:
        for c in report.checks:
            mark = "ok  " if c.present else "MISS"
            how = "" if c.method == "protected" else f"  ({c.method})"
            lines.append(f"  {mark} [{c.start}:{c.end}] {c.source} -> {c.required}{how}")
    if report.spans:
        lines.append(f"--- protected spans: {report.spans_present}/{len(report.spans)} kept exactly")
        if full:
            for c in report.spans:
                mark = "ok  " if c.present else "MISS"
                lines.append(f"  {mark} [{c.start}:{c.end}] {c.kind}: {c.source}")
    return "\n".join(lines)


def _table(result) -> str:
    rows = [("target", "engine", "status")]
    for r in result.results:
        name = f"{r.target} ({languages.get(r.target).name})"
        if r.ok:
            rows.append((name, f"{r.engine}: {r.model}", f"translated, {r.segments} sentences in {r.seconds:.1f} s"))
        else:
            rows.append((name, "-", r.error.message))  # type: ignore[union-attr]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"{a:<{width[0]}}  {b:<{width[1]}}  {c}" for a, b, c in rows)


# -- models ----------------------------------------------------------------------------------------
def cmd_models_list(args: argparse.Namespace) -> int:
    from service.engines.router import EngineRouter

    settings = _settings(args)
    router = EngineRouter(settings)
    source = languages.normalize(args.source)
    routed = router.catalog.pairs()
    pairs = routed if args.all else [(source, t) for t in languages.ASEAN_TARGETS if (source, t) in routed]
    from service.catalog import license_label

    print(f"models directory: {settings.models_dir}")
    print(f"license policy: {settings.license_policy}")
    for model in router.store.installed():
        kinds = ", ".join(k for k, ok in (("transformers", model.has_hf), ("ctranslate2", model.has_ct2),
                                          ("llamacpp", model.has_gguf)) if ok)
        lic = model.license
        if lic == "unknown" and model.id in router.catalog.models:
            lic = f"unknown on its card; catalog: {router.catalog.models[model.id].license}"
        print(f"installed: {model.id} ({kinds or 'incomplete'}), licence {license_label(lic)}")
    print()
    for s, t in pairs:
        status = router.status(s, t)
        served = (f"served by {status.available} ({license_label(status.license)})" if status.available
                  else status.needs)
        print(f"{s}-{t}  {served}")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from service.model_store import ModelStore

    settings = _settings(args)
    store = ModelStore(settings.models_dir)
    path = store.pull(args.name, convert=not args.no_convert, revision=args.revision)
    print(f"installed {args.name} in {path}")
    print(_license_line(settings, args.name, *store.license_info(args.name)))
    return 0


def _license_line(settings: Settings, model_id: str, recorded: str, where: str) -> str:
    """The licence read from the model's card, the catalog's, and whether the license_policy allows it."""
    from service.catalog import Catalog, license_allowed, license_label

    catalog = Catalog.load(settings.catalog_path)
    listed = catalog.models[model_id].license if model_id in catalog.models else None
    effective = recorded if recorded != "unknown" or listed is None else listed
    line = f"licence: {license_label(recorded)} (from the {where or 'model card'})"
    if listed is not None and listed != recorded:
        line += f"; catalog: {license_label(listed)}"
    if not license_allowed(effective, settings.license_policy):
        line += (f"; license_policy = {settings.license_policy} will not use it (set license_policy = \"any\" "
                 "if your use is allowed)")
    return line


def cmd_models_add(args: argparse.Namespace) -> int:
    from service.model_store import ModelStore

    settings = _settings(args)
    name = args.name or (Path(args.path).stem if args.path.endswith(".gguf") else Path(args.path).name)
    store = ModelStore(settings.models_dir)
    path = store.add(Path(args.path), name, convert=not args.no_convert)
    print(f"installed {name} in {path}")
    print(_license_line(settings, name, *store.license_info(name)))
    return 0


# -- glossary --------------------------------------------------------------------------------------
def _registry(settings: Settings):
    from service.terminology.registry import GlossaryRegistry

    return GlossaryRegistry.from_settings(settings)


def _cli_author() -> str:
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"[:64]


def cmd_glossary_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    registry = _registry(settings)
    store = registry.builtin
    print(f"glossary folder: {settings.glossary_dir}")
    defaults = settings.default_glossary_names
    for name in store.names():
        if name in store.broken:
            problems = store.broken[name].details.get("problems", [])
            print(f"{name}  BROKEN, not used: {counted(len(problems), 'problem')}; run `python -m service glossary "
                  f"check {store.broken[name].details.get('path', name)}`")
            continue
        g = store.glossaries[name]
        default = "  (default)" if name in defaults else ""
        print(f"{name}  {len(g.entries)} entries, languages {','.join(g.languages)}, version {g.version}{default}")
    try:
        managed = registry.managed.list() if registry.managed is not None else []
    except GlossariesUnavailable as exc:
        print(f"managed glossaries: not listed ({exc.message})")
        return 0
    for info in managed:
        default = "  (default)" if info.name in defaults else ""
        print(f"{info.name}  {info.entries:,} entries, languages {','.join(info.languages)}, version {info.version} "
              f"(managed; changed {info.updated_at:%Y-%m-%d %H:%M} by {info.updated_by}){default}")
    return 0


def cmd_glossary_check(args: argparse.Namespace) -> int:
    from service.terminology.glossary import load_glossary, warnings

    try:
        g = load_glossary(Path(args.file))
    except GlossaryInvalid as exc:
        for problem in exc.details.get("problems", []):
            print(problem)
        return exit_code(exc)
    found = warnings(g)
    for warning in found:
        print(f"warning: {warning}")
    tail = f", {len(found)} warning{'s' if len(found) != 1 else ''}" if found else ""
    print(f"{args.file}: {len(g.entries)} entries, languages {','.join(g.languages)}: no problems{tail}")
    return 0


def cmd_glossary_import(args: argparse.Namespace) -> int:
    """A file as a managed glossary: a new one, or a new version of the one with that name."""
    from service.errors import GlossaryConflict, GlossaryNotFound
    from service.terminology.glossary import load_glossary

    settings = _settings(args)
    registry = _registry(settings)
    path = Path(args.file)
    name = args.name or path.name.split(".")[0]
    if registry.is_builtin(name):
        raise GlossaryConflict(f"{name} is a built-in glossary (a file in {settings.glossary_dir}); import under "
                               "another name with --name.")
    try:
        g = load_glossary(path)
    except GlossaryInvalid as exc:
        for problem in exc.details.get("problems", []):
            print(problem, file=sys.stderr)
        raise
    if not g.entries:
        raise InvalidInput(f"{path.name} has no entries.")
    if len(g.entries) > settings.max_glossary_entries:
        raise InvalidInput(f"{path.name} has {len(g.entries):,} entries; the limit is "
                           f"{settings.max_glossary_entries:,} (setting max_glossary_entries).")
    langs = [languages.normalize(c) for c in (args.languages or "").split(",") if c.strip()]
    langs = list(dict.fromkeys([*langs, *g.languages]))
    store = registry.managed
    assert store is not None
    try:
        info = store.replace(name, list(g.entries), langs, _cli_author(), args.description,
                             action=f"replaced from {path.name}")
        what = "new version"
    except GlossaryNotFound:
        info = store.create(name, list(g.entries), langs, _cli_author(), args.description or "",
                            action=f"created from {path.name}")
        what = "created"
    print(f"{name}: {what} {info.version}, {info.entries:,} entries, languages {','.join(info.languages)}")
    return 0


def cmd_glossary_export(args: argparse.Namespace) -> int:
    from service.terminology import formats

    registry = _registry(_settings(args))
    g = registry.get(args.name)
    if g.managed and args.version is not None:
        assert registry.managed is not None
        g = registry.managed.load(args.name, args.version)
    data, _, _ = formats.export(g, args.format)
    if args.out:
        try:
            Path(args.out).write_bytes(data)
        except OSError as exc:
            raise InvalidInput(f"Cannot write {args.out}: {exc.strerror}.") from exc
        print(f"{args.out}: {g.name} version {g.version}, {len(g.entries):,} entries", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_glossary_diff(args: argparse.Namespace) -> int:
    from service.terminology.store import entry_json

    registry = _registry(_settings(args))
    if registry.is_builtin(args.name) or registry.managed is None:
        raise InvalidInput(f"{args.name} is a built-in glossary: it has no versions to compare (use diff on its "
                           "file).")
    diff = registry.managed.diff(args.name, args.old, args.new)

    def show(entry) -> str:
        data = entry_json(entry)
        forms = "; ".join(f"{lang}: {' | '.join(v)}" for lang, v in data["forms"].items())
        flags = "".join([" [dnt]" if entry.dnt else "", " [case]" if entry.case_sensitive else ""])
        return f"#{entry.id} {forms}{flags}" + (f" ({entry.note})" if entry.note else "")

    print(f"--- {args.name} version {args.old}\n+++ {args.name} version {args.new}")
    for entry in diff.removed:
        print(f"- {show(entry)}")
    for entry in diff.added:
        print(f"+ {show(entry)}")
    for old, new in diff.changed:
        print(f"- {show(old)}\n+ {show(new)}")
    print(f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed", file=sys.stderr)
    return 0


# -- memory (human corrections) ---------------------------------------------------------------------
def _corrections(settings: Settings):
    from service.corrections import CorrectionStore

    return CorrectionStore(settings.jobs_db, settings.jobs_lock_timeout_s)


def cmd_memory_import(args: argparse.Namespace) -> int:
    """A TMX file into the corrections (human, approved unless the file says otherwise)."""
    from service import tmx

    path = Path(args.file)
    if not path.is_file():
        raise InvalidInput(f"{args.file} is not a file; give a TMX file.")
    found = tmx.read(path)
    for problem in found.problems:
        print(f"skipped {problem}", file=sys.stderr)
    items = found.corrections
    if args.pending:  # for review before use (an import is the operator's: approved otherwise)
        items = [dataclasses.replace(c, approved=False) for c in items]
    added, kept = _corrections(_settings(args)).add_many(items, _cli_author())
    print(f"{path.name}: {found.units:,} units, {added:,} corrections added, {kept:,} updated or kept, "
          f"{found.skipped:,} skipped")
    return 0


def cmd_memory_list(args: argparse.Namespace) -> int:
    """Corrections newest first, one a line (id, status, pair, author, source -> translation)."""
    from service.corrections import PENDING

    store = _corrections(_settings(args))
    total, found = store.search(args.source, "", offset=0, limit=max(1, args.limit),
                                status=PENDING if args.pending else None)
    for c in found:
        print(f"{c.id}\t{c.status}\t{c.source_lang}-{c.target_lang}\t{c.author}\t{c.source} -> {c.target}")
    print(f"{len(found):,} of {total:,} {'pending ' if args.pending else ''}corrections", file=sys.stderr)
    return 0


def cmd_memory_approve(args: argparse.Namespace) -> int:
    """Approve pending corrections by id (used from the next request on, by every worker)."""
    store = _corrections(_settings(args))
    for correction_id in args.ids:
        c = store.approve(correction_id, _cli_author())
        print(f"{c.id}\tapproved\t{c.source} -> {c.target}")
    return 0


def cmd_memory_reject(args: argparse.Namespace) -> int:
    """Reject (delete) corrections by id."""
    store = _corrections(_settings(args))
    for correction_id in args.ids:
        store.delete(correction_id)
        print(f"{correction_id}\tdeleted")
    return 0


def cmd_memory_export(args: argparse.Namespace) -> int:
    from service import tmx

    store = _corrections(_settings(args))
    if args.out:
        try:
            with open(args.out, "wb") as f:
                n = tmx.write(store.export(), f)
        except OSError as exc:
            raise InvalidInput(f"Cannot write {args.out}: {exc.strerror}.") from exc
        print(f"{args.out}: {n:,} corrections", file=sys.stderr)
    else:
        tmx.write(store.export(), sys.stdout.buffer)
    return 0


def cmd_eval_terms(args: argparse.Namespace) -> int:
    from service.terminology.evaluation import evaluate_terms

    settings = _settings(args)
    pipeline = _pipeline(settings)
    names = _glossaries(args)
    layer = pipeline.term_layer(names)
    if layer is None:
        raise InvalidInput("eval-terms needs a glossary (--glossary NAME, or a configured default).")
    source, target = languages.normalize(args.source), languages.normalize(args.to)
    report = evaluate_terms(layer, Path(args.src), Path(args.ref), source, target,
                            hyp=Path(args.hyp) if args.hyp else None, pipeline=pipeline, limit=args.limit)
    print(report.format())
    return 0


# -- serving ---------------------------------------------------------------------------------------
GUNICORN_CONF = Path(__file__).resolve().parent / "serving" / "gunicorn_conf.py"


def cmd_serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn, so that signals (SIGTERM on shutdown) reach it directly."""
    env = dict(os.environ)
    env["ASEAN_MT_BIND"] = f"{args.host}:{args.port}"
    if args.config:
        env["ASEAN_MT_CONFIG"] = args.config
    if args.models_dir:
        env["ASEAN_MT_MODELS_DIR"] = args.models_dir
    if args.workers:
        env["ASEAN_MT_WORKERS"] = str(args.workers)
    load_settings(env.get("ASEAN_MT_CONFIG"), environ=env)  # bad settings: say so here, not in a worker
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), args.app]
    os.execve(sys.executable, argv, env)
    return 0  # pragma: no cover - execve does not return


def cmd_worker(args: argparse.Namespace) -> int:
    """Job store and broker must answer (else one sentence and exit code 7); the embedded worker waits instead."""
    from service.jobs.worker import run_worker

    settings = _settings(args)
    run_worker(settings, args.concurrency or settings.server_threads, requeue=args.requeue, parent=args.parent)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from service.jobs.batch import run_batch

    settings = _settings(args)
    summary = _summary_options(args) if args.summary else None
    return run_batch(settings, [Path(p) for p in args.inputs], Path(args.out), languages.parse_list(args.to),
                     args.source, _glossaries(args), summary)


def _keys_file(args: argparse.Namespace) -> Path | None:
    path = args.file or _settings(args).api_keys_file
    return Path(path) if path else None


def cmd_keys_new(args: argparse.Namespace) -> int:
    from service.keys import KeyRecord, add_key, new_key

    path = _keys_file(args)
    if path is None:  # no file configured: print the line to add by hand, as before
        key, digest = new_key()
        print(f"API key (give it to the client; it is not stored): {key}")
        record = KeyRecord(digest, args.name, args.role, args.limit or "", args.char_limit, args.req_limit)
        print(f"line for the api_keys_file: {record.line()}")
        return 0
    key, record = add_key(path, args.name, args.role, args.limit or "", args.char_limit, args.req_limit)
    print(f"API key {record.name!r} ({record.role}) added to {path}; give it to the client, it is not stored:")
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from service.keys import read_keys, read_revoked

    path = _keys_file(args)
    if path is None or not path.exists():
        raise ConfigError("No API keys file: set api_keys_file (or pass --file).")
    rows = [(r.name, r.role, " ".join([r.limit or "server's rate_limit", *([f"char_limit={r.char_limit}"] if
                                                                            r.char_limit else []),
                                       *([f"req_limit={r.req_limit}"] if r.req_limit else [])]),
             r.digest[:12], "active") for r in read_keys(path)]
    rows += [(r.name, "", "", "", f"revoked {r.when}") for r in read_revoked(path)]
    width = max([4, *(len(r[0]) for r in rows)])
    print(f"{'name':<{width}}  {'role':<5}  {'limit':<20}  {'hash':<12}  state")
    for name, role, limit, digest, state in rows:
        print(f"{name:<{width}}  {role:<5}  {limit:<20}  {digest:<12}  {state}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    from service.keys import revoke_key

    path = _keys_file(args)
    if path is None:
        raise ConfigError("No API keys file: set api_keys_file (or pass --file).")
    count = revoke_key(path, args.name)
    if not count:
        raise InvalidInput(f"No active key named {args.name!r} in {path} (python -m service keys list).")
    print(f"revoked {count} key{'' if count == 1 else 's'} named {args.name!r}; servers stop accepting "
          f"{'it' if count == 1 else 'them'} within api_keys_reload_s seconds")
    return 0


# -- eval ------------------------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> int:
    from service.evaluation import evaluate

    settings = _settings(args)
    report = evaluate(_pipeline(settings), Path(args.src), Path(args.ref), languages.normalize(args.source),
                      languages.normalize(args.to), limit=args.limit,
                      options=DecodeOptions(beam_size=args.beam_size or settings.beam_size))
    print(report.format())
    return 0


# -- wiring ----------------------------------------------------------------------------------------
def _summary_length_options(p: argparse.ArgumentParser) -> None:
    length = p.add_mutually_exclusive_group()
    length.add_argument("--sentences", type=int, help="summary length in sentences (default 3)")
    length.add_argument("--words", type=int, help="summary length in words (approximate for th/km/lo/my)")
    length.add_argument("--ratio", type=float, help="summary length as a share of the sentences (0-1]")
    p.add_argument("--style", choices=["paragraph", "bullets"], default="paragraph")
    p.add_argument("--method", choices=["extractive", "abstractive", "auto"], default="extractive",
                   help="extractive (no model, default), abstractive (needs a model), auto (abstractive if present)")
    p.add_argument("--include-headline", action="store_true", help="let the headline be a summary sentence")


def _glossary_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--glossary", action="append", metavar="NAME",
                   help="glossary to apply (repeat or comma-separate; later ones win); default: the configured one")
    p.add_argument("--no-glossary", action="store_true", help="apply no glossary")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="settings file (TOML); default $ASEAN_MT_CONFIG")
    common.add_argument("--models-dir",
                        help="models directory; default $ASEAN_MT_MODELS_DIR or ~/.cache/asean-mt/models")
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")

    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("translate", parents=[common], help="translate a text file (or - for stdin) or a document "
                       "(.html .docx .md .srt .vtt .xlf .po .pdf) with its markup kept")
    p.add_argument("file")
    p.add_argument("--input-format", choices=["text", "html", "docx", "markdown", "srt", "vtt", "xliff", "po", "pdf"],
                   help="the file's format when its name does not say it (default: from the name; .txt is text)")
    p.add_argument("--pdf-as", choices=["docx", "txt"], default="docx",
                   help="a PDF's translation as a Word file (default) or text; its layout is not kept")
    p.add_argument("--to", required=True, help="target languages, comma-separated (en,ms,tha_Thai,...)")
    p.add_argument("--from", dest="source", default="auto", help="source language, or auto (default)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--beam-size", type=int)
    p.add_argument("--n-best", type=int, default=1, help="alternatives per sentence (json output)")
    _glossary_options(p)
    p.add_argument("--layout", choices=["keep", "reflow", "auto"],
                   help="hard-wrapped lines: keep each line, reflow paragraphs, or auto (default: setting layout)")
    p.add_argument("--out", metavar="DIR", help="write NAME.<lang>.txt (.json with --format json; documents: "
                                                "NAME.<lang>.<ext>) per target here")
    p.add_argument("--report", metavar="FILE", help="write the reports (term report, status table) here, "
                                                    "not to stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no reports: only the translation (and errors)")
    p.add_argument("--glossary-report", choices=["none", "summary", "full"], default="summary",
                   help="size of the glossary report: none, summary (one line a target, default), or every term")
    p.add_argument("--summary", action="store_true", help="also summarise the source and each translation")
    p.add_argument("--summary-mode", choices=["translate", "summarise_target"], default="translate",
                   help="translate the source summary (default) or summarise each translation")
    _summary_length_options(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser("summarize", parents=[common], help="summarise a text file (or - for stdin)")
    p.add_argument("file")
    p.add_argument("--lang", default="auto", help="the text's language, or auto (default)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    _summary_length_options(p)
    p.set_defaults(func=cmd_summarize)

    p = sub.add_parser("detect", parents=[common], help="detect the language of a text file (or - for stdin)")
    p.add_argument("file")
    p.add_argument("--lines", action="store_true", help="one answer per line (paragraph) of the input")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("eval-detect", parents=[common],
                       help="detection accuracy on files of one known language (each line a sentence)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--lang", required=True, help="the language the files are in")
    p.add_argument("--paragraphs", type=int, default=1, metavar="N",
                   help="join N consecutive lines into one item (paragraph accuracy)")
    p.add_argument("--examples", type=int, default=5, help="errors to show")
    p.set_defaults(func=cmd_eval_detect)

    glossary = sub.add_parser("glossary", help="list, check, import, export or compare glossaries").add_subparsers(
        dest="action", required=True)
    p = glossary.add_parser("list", parents=[common], help="the glossaries: built-in files and managed ones")
    p.set_defaults(func=cmd_glossary_list)
    p = glossary.add_parser("check", parents=[common], help="validate a glossary file: CSV, TSV, TBX or XLSX "
                                                            "(problems as file:line)")
    p.add_argument("file")
    p.set_defaults(func=cmd_glossary_check)
    p = glossary.add_parser("import", parents=[common], help="a file as a managed glossary (a new one, or a new "
                                                             "version of the one with that name)")
    p.add_argument("file")
    p.add_argument("--name", help="the glossary's name (default: the file's name)")
    p.add_argument("--description")
    p.add_argument("--languages", help="the languages, comma-separated, the source side first")
    p.set_defaults(func=cmd_glossary_import)
    p = glossary.add_parser("export", parents=[common], help="a glossary as CSV or TBX, on stdout or --out FILE")
    p.add_argument("name")
    p.add_argument("--format", choices=["csv", "tbx"], default="csv")
    p.add_argument("--version", type=int, help="a managed glossary's version (default: the current one)")
    p.add_argument("--out", metavar="FILE")
    p.set_defaults(func=cmd_glossary_export)
    p = glossary.add_parser("diff", parents=[common], help="what changed between two versions of a managed "
                                                           "glossary")
    p.add_argument("name")
    p.add_argument("old", type=int, metavar="V1")
    p.add_argument("new", type=int, metavar="V2")
    p.set_defaults(func=cmd_glossary_diff)

    memory = sub.add_parser("memory", help="human corrections: import or export a TMX file, review pending ones"
                            ).add_subparsers(dest="action", required=True)
    p = memory.add_parser("import", parents=[common], help="a TMX 1.4 file into the corrections (approved: used "
                                                           "before any engine for the same sentence)")
    p.add_argument("file")
    p.add_argument("--pending", action="store_true", help="store them as pending, for review before use")
    p.set_defaults(func=cmd_memory_import)
    p = memory.add_parser("list", parents=[common], help="corrections, newest first (--pending: the review queue)")
    p.add_argument("--pending", action="store_true", help="only those waiting for approval")
    p.add_argument("--source", default="", help="only those whose source contains this text")
    p.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    p.set_defaults(func=cmd_memory_list)
    p = memory.add_parser("approve", parents=[common], help="approve pending corrections (used from now on)")
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.set_defaults(func=cmd_memory_approve)
    p = memory.add_parser("reject", parents=[common], help="reject (delete) corrections")
    p.add_argument("ids", type=int, nargs="+", metavar="ID")
    p.set_defaults(func=cmd_memory_reject)
    p = memory.add_parser("export", parents=[common], help="every correction as a TMX 1.4 file, on stdout or --out")
    p.add_argument("--format", choices=["tmx"], default="tmx")
    p.add_argument("--out", metavar="FILE")
    p.set_defaults(func=cmd_memory_export)

    p = sub.add_parser("eval-terms", parents=[common],
                       help="exact-match term accuracy (WMT21 terminology task) with per-term misses")
    p.add_argument("--src", required=True)
    p.add_argument("--ref", required=True, help="reference translation: only terms whose required form is in "
                                                "the reference line are counted")
    p.add_argument("--hyp", help="translations to score; default: translate --src now")
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--limit", type=int)
    _glossary_options(p)
    p.set_defaults(func=cmd_eval_terms)

    models = sub.add_parser("models", help="list, pull or add models").add_subparsers(dest="action", required=True)
    p = models.add_parser("list", parents=[common], help="which engine serves each pair, and what is missing")
    p.add_argument("--from", dest="source", default="id")
    p.add_argument("--all", action="store_true", help="every pair among the known languages")
    p.set_defaults(func=cmd_models_list)
    p = models.add_parser("pull", parents=[common], help="download from the hub and convert to CTranslate2 int8")
    p.add_argument("name")
    p.add_argument("--revision")
    p.add_argument("--no-convert", action="store_true", help="keep only the transformers weights")
    p.set_defaults(func=cmd_models_pull)
    p = models.add_parser("add", parents=[common],
                          help="install a local Hugging Face model folder or a .gguf file (offline)")
    p.add_argument("path")
    p.add_argument("--name", help="model id to install it as (e.g. Helsinki-NLP/opus-mt-id-en)")
    p.add_argument("--no-convert", action="store_true")
    p.set_defaults(func=cmd_models_add)

    p = sub.add_parser("serve", parents=[common], help="serve the HTTP API and web form with gunicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, help="gunicorn workers (default: setting workers, 1)")
    p.add_argument("--app", default="service.http:create_app()", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", parents=[common], help="run a batch-job worker (Celery) in this process")
    p.add_argument("--concurrency", type=int, help="tasks at once (threads sharing one copy of the models)")
    p.add_argument("--requeue", action="store_true",
                   help="first queue again every unfinished document in the job store (the embedded broker "
                        "cannot redeliver the task of a worker that died)")
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # serve's embedded worker: stop when it dies
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("batch", parents=[common], help="translate files or folders as a resumable batch job")
    p.add_argument("inputs", nargs="+", help=".txt files (one document each), .jsonl, .csv, or folders of them")
    p.add_argument("--to", required=True)
    p.add_argument("--from", dest="source", default="auto")
    p.add_argument("--out", required=True, help="output folder: results.jsonl, TARGET/ID.txt, and the job state")
    p.add_argument("--summary", action="store_true")
    _summary_length_options(p)
    _glossary_options(p)
    p.set_defaults(func=cmd_batch)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    keyfile = argparse.ArgumentParser(add_help=False)
    keyfile.add_argument("--file", help="the API keys file (default: the setting api_keys_file)")
    p = keys.add_parser("new", parents=[common, keyfile], help="make a new API key and store its hash")
    p.add_argument("--name", default="client", help="how the key is listed and revoked (unique)")
    p.add_argument("--role", choices=["user", "admin"], default="user", help="admin keys see every job")
    p.add_argument("--limit", help="the key's own character rate limit, e.g. 2000000/day")
    p.add_argument("--char-limit", type=int, default=0, help="characters in one request (LibreTranslate's "
                                                             "char_limit; 0: none)")
    p.add_argument("--req-limit", type=int, default=0, help="requests a minute (LibreTranslate's req_limit; 0: none)")
    p.set_defaults(func=cmd_keys_new)
    p = keys.add_parser("list", parents=[common, keyfile], help="the keys: name, role, limit, state")
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("revoke", parents=[common, keyfile], help="revoke a key by name (servers notice within "
                        "api_keys_reload_s seconds)")
    p.add_argument("name")
    p.set_defaults(func=cmd_keys_revoke)

    p = sub.add_parser("eval", parents=[common], help="BLEU / chrF++ and throughput on a parallel test set")
    p.add_argument("--src", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--limit", type=int, help="only the first N lines")
    p.add_argument("--beam-size", type=int)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except ServiceError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or a surprise: one line for the user, the traceback for -vv and reports
        incident = uuid.uuid4().hex[:12]
        log.debug("incident %s", incident, exc_info=exc)
        print(f"error: the command stopped on an unexpected error (incident {incident}); run it again with -vv "
              "to see the details, and report them.", file=sys.stderr)
        return 1


def _discard_stdout() -> None:
    """The reader of our output is gone: send what is left nowhere, so that exiting flushes without an error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
