"""App factories used by tests that start a real gunicorn (``python -m service serve --app ...``)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from service.config import load_settings
from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.http import create_app
from service.pipeline import Pipeline
from tests.fakes import FixedRouter


class SlowEngine:
    """Takes ``delay`` seconds per call: for shutdown tests with a request in flight."""

    name = "slow"
    model = "sleepy"
    max_input_tokens = 512

    def __init__(self, delay: float):
        self.delay = delay

    def count_tokens(self, text: str, source: str, target: str = "") -> int:
        return len(text.split())

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        time.sleep(self.delay)
        return [SegmentTranslation([Hypothesis(s[::-1])], 1, 1) for s in segments]


def slow_app():
    settings = load_settings()
    return create_app(settings, Pipeline(settings, FixedRouter(SlowEngine(3.0))), warm="none")


def fast_app():
    """The real app on a fake engine that answers at once: for tests of the serving layer itself."""
    from tests.fakes import RecordingEngine

    settings = load_settings()
    return create_app(settings, Pipeline(settings.replace(default_glossaries=""), FixedRouter(RecordingEngine())),
                      warm="none")
