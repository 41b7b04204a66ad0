"""The model catalog: language pair -> engine/model candidates, loaded from a TOML data file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from service import languages
from service.errors import ConfigError, UnsupportedLanguage, UnsupportedPair

ENGINES = ("ctranslate2", "transformers", "apertium")
FAMILIES = ("marian", "nllb", "m2m100", "mbart", "t5", "mt5", "bart", "apertium")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    family: str
    languages: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    target_tokens: dict[str, str] = field(default_factory=dict)
    size: str = ""
    package: str = ""
    #: prompt template (``prompts/<name>.txt``) for summarisation models; "" for none
    prompt: str = ""

    def serves(self, source: str, target: str) -> bool:
        if (source, target) in self.pairs:
            return True
        return source != target and source in self.languages and target in self.languages


@dataclass(frozen=True)
class Candidate:
    engine: str
    model: ModelInfo

    def __str__(self) -> str:
        return f"{self.engine}:{self.model.id}"


def _pair(text: str, where: str) -> tuple[str, str]:
    try:
        src, tgt = text.split("-")
        return languages.normalize(src), languages.normalize(tgt)
    except (ValueError, UnsupportedLanguage) as exc:
        raise ConfigError(f"{where}: {text!r} is not a pair of known languages like 'id-en'.") from exc


class Catalog:
    def __init__(self, models: dict[str, ModelInfo], routes: dict[tuple[str, str] | str, list[Candidate]],
                 summarizers: dict[str, list[Candidate]] | None = None):
        self.models = models
        self.routes = routes
        self.summarizers = summarizers or {}

    @classmethod
    def load(cls, path: Path) -> Catalog:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Cannot read the model catalog {path}; check the setting catalog_path.") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The model catalog {path} is not valid TOML; fix the file or the setting "
                              "catalog_path.") from exc
        models: dict[str, ModelInfo] = {}
        for model_id, spec in data.get("models", {}).items():
            where = f"{path}: model {model_id!r}"
            family = spec.get("family")
            if family not in FAMILIES:
                raise ConfigError(f"{where}: family must be one of {', '.join(FAMILIES)}.")
            try:
                langs = tuple(languages.normalize(c) for c in spec.get("languages", []))
                tokens = {languages.normalize(k): v for k, v in spec.get("target_tokens", {}).items()}
            except UnsupportedLanguage as exc:
                raise ConfigError(f"{where}: {exc.message}") from exc
            models[model_id] = ModelInfo(
                id=model_id, family=family, languages=langs,
                pairs=tuple(_pair(p, where) for p in spec.get("pairs", [])),
                target_tokens=tokens, size=spec.get("size", ""), package=spec.get("package", ""),
                prompt=spec.get("prompt", ""),
            )
        summarizers: dict[str, list[Candidate]] = {}
        for key, entries in data.get("summarizers", {}).items():
            where = f"{path}: summarizers {key!r}"
            try:
                lang = key if key == "*" else languages.normalize(key)
            except UnsupportedLanguage as exc:
                raise ConfigError(f"{where}: {exc.message}") from exc
            summarizers[lang] = [cls._candidate(entry, models, where) for entry in entries]
            if any(c.engine == "apertium" for c in summarizers[lang]):
                raise ConfigError(f"{where}: summarisers run on ctranslate2 or transformers.")
        routes: dict[tuple[str, str] | str, list[Candidate]] = {}
        for key, entries in data.get("routes", {}).items():
            where = f"{path}: route {key!r}"
            pair = key if key == "*" else _pair(key, where)
            routes[pair] = [cls._candidate(entry, models, where) for entry in entries]
        return cls(models, routes, summarizers)

    @staticmethod
    def _candidate(entry: str, models: dict[str, ModelInfo], where: str) -> Candidate:
        engine, _, model_id = entry.partition(":")
        if engine not in ENGINES or model_id not in models:
            raise ConfigError(f"{where}: {entry!r} needs a known engine ({', '.join(ENGINES)}) "
                              "and a model listed under [models].")
        if (engine == "apertium") != (models[model_id].family == "apertium"):
            raise ConfigError(f"{where}: {entry!r} pairs an engine with a model it cannot run.")
        return Candidate(engine, models[model_id])

    def summarizer_candidates(self, lang: str) -> list[Candidate]:
        """Abstractive summarisers for ``lang`` in preference order (may be empty)."""
        entries = self.summarizers.get(lang) or self.summarizers.get("*", [])
        return [c for c in entries if lang in c.model.languages]

    def candidates(self, source: str, target: str) -> list[Candidate]:
        """Engines/models for the pair, in preference order; raises UnsupportedPair when none could serve."""
        entries = self.routes.get((source, target)) or self.routes.get("*", [])
        found = [c for c in entries if c.model.serves(source, target)]
        if not found:
            raise UnsupportedPair(
                f"No engine in the catalog translates {source} -> {target}.",
                source=source, target=target, supported=[f"{s}-{t}" for s, t in self.pairs()],
            )
        return found

    def pairs(self) -> list[tuple[str, str]]:
        codes = list(languages.LANGUAGES)
        out = []
        for s in codes:
            for t in codes:
                if s != t:
                    entries = self.routes.get((s, t)) or self.routes.get("*", [])
                    if any(c.model.serves(s, t) for c in entries):
                        out.append((s, t))
        return out
