"""One exception family for the core.

Front ends map these to their own vocabulary in one place each: exit codes in ``service.cli``
(and HTTP status codes in the HTTP layer). Messages are written for the user: one clear sentence,
no stack trace, and they never include another library's exception text verbatim.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 problem``, ``2 problems`` (``plural`` for irregular nouns): counts in messages read as English."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


class ServiceError(Exception):
    """Base of every error the service reports to a user."""

    code = "service_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidInput(ServiceError):
    """The request itself is wrong (bad option, unreadable file, empty language list...)."""

    code = "invalid_input"


class EmptyText(InvalidInput):
    """The text is empty or only whitespace: there is nothing to translate, detect or summarise."""

    code = "empty_text"


class InputTooLarge(InvalidInput):
    code = "input_too_large"


class UnsupportedLanguage(InvalidInput):
    code = "unsupported_language"


class UnsupportedPair(InvalidInput):
    code = "unsupported_pair"


class DetectionFailed(InvalidInput):
    code = "detection_failed"


class ModelMissing(ServiceError):
    """A pair is known, but none of its engines can run here yet (a model must be pulled)."""

    code = "model_missing"


class ModelDownloadFailed(ServiceError):
    code = "model_download_failed"


class ModelInvalid(ServiceError):
    """A local model folder exists but cannot be used (wrong files, failed conversion)."""

    code = "model_invalid"


class EngineFailed(ServiceError):
    """An engine that was available failed while translating."""

    code = "engine_failed"


class GlossaryNotFound(InvalidInput):
    code = "glossary_not_found"


class GlossaryInvalid(ServiceError):
    """A glossary file has problems; ``details['problems']`` lists them as 'file:line: what'."""

    code = "glossary_invalid"


class ConfigError(ServiceError):
    code = "config_error"


class JobsUnavailable(ServiceError):
    """The job store or the task queue cannot be reached: batch jobs wait for it; translation is unaffected."""

    code = "jobs_unavailable"


class GlossariesUnavailable(ServiceError):
    """The database of managed glossaries cannot be reached and the glossary asked for is not held in memory:
    built-in glossaries (files) and every glossary already loaded keep working."""

    code = "glossaries_unavailable"


class GlossaryConflict(InvalidInput):
    """A change that clashes with what is there: a glossary name taken, a source term another entry has."""

    code = "glossary_conflict"


class CorrectionNotFound(InvalidInput):
    code = "correction_not_found"


class CorrectionConflict(InvalidInput):
    """A pending correction of a sentence that has an approved one: it would take the approved one out of use."""

    code = "correction_conflict"


class CorrectionsUnavailable(ServiceError):
    """The database of human corrections cannot be reached: translation goes on without them."""

    code = "corrections_unavailable"


class InternalError(ServiceError):
    """Something unexpected failed (a bug, or a library's surprise); ``details['incident']`` names its log entry."""

    code = "internal_error"


def internal_error(exc: BaseException, doing: str, log: logging.Logger) -> InternalError:
    """An unexpected exception as an error a user can quote: an incident id, whose log entry has the traceback."""
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: unexpected error while %s", incident, doing, exc_info=exc)
    return InternalError(f"An unexpected error stopped this work (incident {incident}); the server log has the "
                         "details under that id.", incident=incident)
