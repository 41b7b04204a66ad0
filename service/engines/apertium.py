"""Apertium (rule-based, Debian packages, fully offline) through its command line."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from service.engines.base import DecodeOptions, Hypothesis, SegmentTranslation
from service.errors import EngineFailed

#: Apertium marks unknown words with "*", untranslatable generation with "#" and unknown source forms
#: with "@"; ``-u`` drops the "*" marks, the rest are removed here (only at the start of a word).
_MARKS = re.compile(r"(?<![\w@#])[#@](?=\w)")


def revision(mode: str, modes_dir: Path) -> str:
    path = modes_dir / f"{mode}.mode"
    stat = path.stat()
    return hashlib.sha256(path.read_bytes() + f"{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def is_installed(mode: str, modes_dir: Path) -> bool:
    return shutil.which("apertium") is not None and (modes_dir / f"{mode}.mode").is_file()


class ApertiumEngine:
    name = "apertium"
    #: Apertium has no context window; a bound still keeps one call's input sane.
    max_input_tokens = 4096

    def __init__(self, mode: str, modes_dir: Path, timeout_s: float = 60.0):
        self.model = mode
        self.modes_dir = modes_dir
        self.timeout_s = timeout_s

    def count_tokens(self, text: str, source: str, target: str) -> int:
        return len(text.split())

    def _run(self, text: str) -> str:
        try:
            done = subprocess.run(
                ["apertium", "-d", str(self.modes_dir.parent), "-u", "-f", "txt", self.model],
                input=text, capture_output=True, text=True, timeout=self.timeout_s, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineFailed(f"Apertium ({self.model}) took longer than {self.timeout_s:g} s (setting "
                               "apertium_timeout_s).") from exc
        except OSError as exc:
            raise EngineFailed(f"Apertium ({self.model}) could not be started; check that the apertium package "
                               "is installed.") from exc
        if done.returncode != 0:
            raise EngineFailed(f"Apertium ({self.model}) exited with status {done.returncode}.")
        return done.stdout

    def translate(self, segments: Sequence[str], source: str, target: str,
                  options: DecodeOptions) -> list[SegmentTranslation]:
        if not segments:
            return []
        # One process for the whole batch: one segment per line (segments never contain newlines).
        clean = [s.replace("\n", " ") for s in segments]
        lines = self._run("\n".join(clean) + "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != len(clean):  # formatting changed the line count: fall back to one call each
            lines = [self._run(s + "\n").rstrip("\n") for s in clean]
        return [
            SegmentTranslation([Hypothesis(_MARKS.sub("", line).strip())], input_tokens=len(src.split()),
                               output_tokens=len(line.split()))
            for src, line in zip(clean, lines, strict=True)
        ]
