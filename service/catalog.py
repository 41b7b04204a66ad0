"""The model catalog: language pair -> engine/model candidates, loaded from a TOML data file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from service import languages
from service.errors import ConfigError, UnsupportedLanguage, UnsupportedPair

ENGINES = ("ctranslate2", "transformers", "apertium", "openai", "llamacpp")
#: Engines that run a large language model through a chat prompt (catalog family "llm").
LLM_ENGINES = ("openai", "llamacpp")
FAMILIES = ("marian", "nllb", "m2m100", "madlad", "mbart", "t5", "mt5", "bart", "apertium", "llm")

# -- licences --------------------------------------------------------------------------------------
#: Values of the ``license_policy`` setting. ``permissive`` admits every licence that lets a deployer use the
#: model for any purpose, including commercially (permissive, copyleft, and custom terms with an acceptable-use
#: policy such as Gemma's or Llama's); it excludes non-commercial, no-derivatives and research-only licences,
#: and models whose licence is unknown.
POLICIES = ("any", "permissive")
#: Licence classes, from the Hugging Face hub's licence identifiers (model card metadata ``license:``).
_CLASSES = {
    "mit": "permissive", "apache-2.0": "permissive", "bsd-2-clause": "permissive", "bsd-3-clause": "permissive",
    "cc-by-4.0": "permissive", "cc-by-3.0": "permissive", "cc0-1.0": "permissive", "unlicense": "permissive",
    "bsl-1.0": "permissive", "isc": "permissive", "zlib": "permissive", "mpl-2.0": "copyleft",
    "gpl-2.0": "copyleft", "gpl-3.0": "copyleft", "gpl-2.0-or-later": "copyleft", "gpl-3.0-or-later": "copyleft",
    "lgpl-3.0": "copyleft", "agpl-3.0": "copyleft", "cc-by-sa-4.0": "copyleft", "cc-by-sa-3.0": "copyleft",
    "gemma": "use-restricted", "llama2": "use-restricted", "llama3": "use-restricted",
    "llama3.1": "use-restricted", "llama3.2": "use-restricted", "llama3.3": "use-restricted",
    "openrail": "use-restricted", "openrail++": "use-restricted", "bigscience-openrail-m": "use-restricted",
    "creativeml-openrail-m": "use-restricted", "bigscience-bloom-rail-1.0": "use-restricted",
}
EXCLUDED_BY_PERMISSIVE = ("non-commercial", "no-derivatives", "research-only", "unknown")
UNKNOWN = "unknown"


def license_class(license_id: str) -> str:
    """permissive | copyleft | use-restricted | non-commercial | no-derivatives | research-only | unknown."""
    lic = (license_id or "").strip().lower()
    if lic in _CLASSES:
        return _CLASSES[lic]
    if "-nc" in lic or "noncommercial" in lic or "non-commercial" in lic:
        return "non-commercial"
    if "-nd" in lic:
        return "no-derivatives"
    if "research" in lic:
        return "research-only"
    return "unknown"


def license_allowed(license_id: str, policy: str) -> bool:
    if policy not in POLICIES:
        raise ConfigError(f"license_policy must be one of {', '.join(POLICIES)}, not {policy!r}.")
    return policy == "any" or license_class(license_id) not in EXCLUDED_BY_PERMISSIVE


def license_label(license_id: str) -> str:
    """``MIT``-style label with the class where it matters: ``cc-by-nc-4.0 (non-commercial)``."""
    lic = (license_id or "").strip() or UNKNOWN
    kind = license_class(lic)
    return lic if kind in ("permissive", "unknown") else f"{lic} ({kind})"


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
    #: licence identifier as on the model card (``mit``, ``apache-2.0``, ``cc-by-nc-4.0``, ``gemma``...)
    license: str = UNKNOWN
    #: where the licence was verified (the model card's address)
    source: str = ""
    #: LLMs: the translation prompt template, and the model's name on an OpenAI-compatible server
    translate_prompt: str = ""
    served_name: str = ""

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
                prompt=spec.get("prompt", "") or ("summarize.llm" if family == "llm" else ""),
                license=str(spec.get("license", UNKNOWN)).strip() or UNKNOWN, source=spec.get("source", ""),
                translate_prompt=spec.get("translate_prompt", "translate.llm" if family == "llm" else ""),
                served_name=spec.get("served_name", ""),
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
                raise ConfigError(f"{where}: summarisers run on ctranslate2, transformers or an LLM engine.")
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
        family = models[model_id].family
        if (engine == "apertium") != (family == "apertium") or (engine in LLM_ENGINES) != (family == "llm"):
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
