"""Extract the web pages' strings, update the catalogues and compile them (Babel), in one step.

    python scripts/i18n.py            # extract + update every locale's messages.po + compile messages.mo
    python scripts/i18n.py --check    # exit 1 when a string has no translation or a .mo is out of date

The compiled ``messages.mo`` files are committed (the image and the wheel need no build step); the test
``tests/test_web_i18n.py`` fails when a marked string has no translation or a ``.mo`` is older than its ``.po``.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

log = logging.getLogger("i18n")
REPO = Path(__file__).resolve().parent.parent
HTTP = REPO / "service" / "http"
TRANSLATIONS = HTTP / "translations"
LOCALES = ("id", "ms")


def extract() -> Catalog:
    """Every string marked for translation in the pages (templates and page-facing Python)."""
    with open(HTTP / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    catalog = Catalog(project="asean-mt", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(REPO), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def compiled(po: Path) -> bytes:
    with open(po, "rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def problems(locale: str) -> list[str]:
    """Marked strings without a translation in ``locale``, and a stale .mo."""
    po = po_path(locale)
    with open(po, "rb") as f:
        catalog = read_po(f)
    found = []
    for message in extract():
        if not message.id:
            continue
        have = catalog.get(message.id)
        if have is None or not have.string or (isinstance(have.string, tuple) and not all(have.string)) \
                or have.fuzzy:
            found.append(f"{locale}: no translation for {message.id!r}")
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.read_bytes() != compiled(po):
        found.append(f"{locale}: {mo.relative_to(REPO)} is not the compiled {po.name}; run python scripts/i18n.py")
    return found


def update() -> None:
    template = extract()
    for locale in LOCALES:
        po = po_path(locale)
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with open(po, "rb") as f:
                catalog = read_po(f, locale=locale)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(locale=locale, project="asean-mt", charset="utf-8")
            catalog.update(template, no_fuzzy_matching=True)
        with open(po, "wb") as f:
            write_po(f, catalog, width=120, omit_header=False, sort_output=False, include_lineno=False,
                     ignore_obsolete=True)
        po.with_suffix(".mo").write_bytes(compiled(po))
        log.info("%s: %d strings, %d untranslated", locale, len(catalog),
                 sum(1 for m in catalog if m.id and not m.string))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 on a missing translation")
    args = parser.parse_args()
    if args.check:
        found = [p for locale in LOCALES for p in problems(locale)]
        for p in found:
            log.error("%s", p)
        return 1 if found else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main())
