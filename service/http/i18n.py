"""The web pages' own language: English, Bahasa Indonesia or Bahasa Melayu, through Flask-Babel.

The visitor's choice (``?lang=id`` from the switch in every page's header) is kept in the signed session;
without one, the browser's ``Accept-Language`` decides. Templates mark every string with ``_()``; the
catalogues are ``service/http/translations/<locale>/LC_MESSAGES/messages.po``, compiled to the committed
``messages.mo`` (``python scripts/i18n.py`` extracts, updates and compiles; a test fails when a marked string
has no translation or a ``.mo`` is not its compiled ``.po``).

Language names come from the CLDR data Babel ships (Malay is "Melayu" in Indonesian), not from our own lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, request, session
from flask_babel import Babel, get_locale

#: The interface's languages: locale -> its own name (shown in the switch, in that language).
LOCALES: dict[str, str] = {"en": "English", "id": "Bahasa Indonesia", "ms": "Bahasa Melayu"}
DEFAULT_LOCALE = "en"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
#: Session entry of the visitor's chosen interface language.
SESSION_LOCALE = "locale"
#: Our language codes whose CLDR name is under another code (CLDR's "tl" is Tagalog; the service means Filipino).
CLDR_CODES = {"tl": "fil"}


def select_locale() -> str:
    chosen = session.get(SESSION_LOCALE)
    if chosen in LOCALES:
        return str(chosen)
    return request.accept_languages.best_match(list(LOCALES)) or DEFAULT_LOCALE


def _remember_choice() -> None:
    """``?lang=xx`` on any page: the visitor picked a language in the switch."""
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        session[SESSION_LOCALE] = chosen


def current() -> str:
    return str(get_locale() or DEFAULT_LOCALE)


def language_name(code: str) -> str:
    """A language's name in the interface's language ("Malay", "Melayu")."""
    from service import languages

    locale = Locale.parse(current())
    name = locale.languages.get(CLDR_CODES.get(code, code))
    if name:
        return name[:1].upper() + name[1:]
    return languages.LANGUAGES[code].name if code in languages.LANGUAGES else code


def install(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS),
          default_locale=DEFAULT_LOCALE)
    app.before_request(_remember_choice)

    @app.context_processor
    def _locale() -> dict[str, Any]:
        return {"locales": LOCALES, "current_locale": current(), "language_name": language_name}
