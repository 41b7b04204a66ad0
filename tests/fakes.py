"""Test doubles for the engine layer: deterministic engines that record how they were called."""

from __future__ import annotations

from collections.abc import Sequence

from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.errors import EngineFailed


class RecordingEngine:
    """Upper-cases its input (a visible, deterministic 'translation') and records every batch."""

    name = "fake"
    model = "upper"

    def __init__(self, max_input_tokens: int = 512, fail_on: str | None = None):
        self.max_input_tokens = max_input_tokens
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    def count_tokens(self, text: str, source: str, target: str = "") -> int:
        return len(text.split())

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        self.batches.append(list(segments))
        if self.fail_on and any(self.fail_on in s for s in segments):
            raise EngineFailed("fake engine failure")
        return [SegmentTranslation([Hypothesis(s.upper())], len(s.split()), len(s.split())) for s in segments]


class FixedRouter:
    """Routes every pair to one engine."""

    def __init__(self, engine):
        self.engine = engine
        self.catalog = self  # every pair has its one candidate: this engine

    def engine_for(self, source: str, target: str):
        return self.engine

    def candidates(self, source: str, target: str) -> list[object]:
        return [self.engine]

    def status(self, source: str, target: str):  # the web form asks which targets work now: all of them
        from types import SimpleNamespace

        return SimpleNamespace(source=source, target=target, available=self.engine, needs="", license="")


class ScriptedEngine:
    """Returns ``script(segment)`` as the n-best list for each segment: for forcing placeholder behaviour."""

    name = "scripted"
    model = "script"
    max_input_tokens = 512

    def __init__(self, script):
        self.script = script
        self.options: list[DecodeOptions] = []

    def count_tokens(self, text: str, source: str, target: str = "") -> int:
        return len(text.split())

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        self.options.append(options)
        return [SegmentTranslation([Hypothesis(h) for h in self.script(s)], 1, 1) for s in segments]
