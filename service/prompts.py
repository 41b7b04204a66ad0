"""Prompt templates from the top-level ``prompts/`` folder, validated when loaded.

A template is a text file whose first lines may be ``# variables: a, b`` (the variables it must use,
documented for its readers) followed by the body with ``{a}`` placeholders.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from service.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@dataclass(frozen=True)
class Prompt:
    name: str
    body: str
    variables: frozenset[str]

    def render(self, **values: str) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise ConfigError(f"Prompt {self.name} needs {', '.join(sorted(missing))}.")
        return self.body.format(**{k: values[k] for k in self.variables})


def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    path = directory / f"{name}.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Unknown prompt template {name!r} (no {path}).") from exc
    declared: set[str] = set()
    body_lines = []
    for line in lines:
        if line.startswith("# variables:"):
            declared = {v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()}
        elif not line.startswith("#"):
            body_lines.append(line)
    body = "\n".join(body_lines).strip("\n")
    used = {field for _, field, _, _ in string.Formatter().parse(body) if field}
    if used != declared:
        raise ConfigError(f"Prompt {name}: it uses {{{', '.join(sorted(used))}}} but declares "
                          f"{{{', '.join(sorted(declared))}}}; the two must match.")
    return Prompt(name, body, frozenset(declared))
