"""One typed settings object, read from the environment (``ASEAN_MT_*``) and an optional TOML file.

Every limit is a named field here, with the reason for its value beside it.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from service.errors import ConfigError

ENV_PREFIX = "ASEAN_MT_"
PACKAGE_DIR = Path(__file__).resolve().parent


def _default_models_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "asean-mt" / "models"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "asean-mt"


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Immutable; ``Settings(...)`` is the defaults plus its arguments, :func:`load_settings` adds the TOML file
    and the environment, and ``settings.replace(name=value)`` makes a changed copy (validated like the rest)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    #: Where pulled and added models live: ``<models_dir>/<org>--<name>/{hf,ctranslate2}``.
    models_dir: Path = Field(default_factory=_default_models_dir)
    #: Language pair -> engines/models in preference order (data, not code).
    catalog_path: Path = PACKAGE_DIR / "catalog.toml"
    #: Domain glossaries (CSV/TSV), loaded once at start-up; a broken file is reported and left out.
    glossary_dir: Path = PACKAGE_DIR.parent / "glossary"
    #: Glossaries applied when a request names none (comma-separated; empty for none).
    default_glossaries: str = "asean-smart-cities"
    #: The service's usual source language: an uncertain detection between it and another language uses it
    #: (Indonesian and Malay share most of their words, and this service exists for Indonesian sources).
    source_prior: str = "id"
    #: How much likelier the source prior is than any other language before the text is read: a call closer
    #: than 60:40 goes to it. Higher values take more Malay for Indonesian (bench/results/detect.md).
    source_prior_weight: float = 1.5
    #: A detection below this probability is reported "uncertain" with its two candidates (0.9: on held-out
    #: sentences the confident calls are then right more than 99% of the time, bench/results/detect.md).
    detect_min_confidence: float = 0.9
    #: Texts of fewer words than this are too short to tell Indonesian from Malay: always "uncertain".
    detect_min_words: int = 5
    #: Kinds of spans kept byte for byte through translation, comma-separated, "all" or "none": url, email,
    #: mention, hashtag, file, money, date, time, number (with a unit), code (`inline`). Unicode
    #: noncharacters are always kept apart (they cut Apertium's output short).
    protected_spans: str = "all"
    #: Line layout when a request names none: "keep" (every line is its own block), "reflow" (lines of a
    #: paragraph are joined, for hard-wrapped text), "auto" (re-flow only lines that continue a sentence).
    layout: str = "auto"
    #: Folder with Apertium's ``*.mode`` files (Debian installs them here).
    apertium_modes_dir: Path = Path("/usr/share/apertium/modes")
    #: "cpu", "cuda" or "auto" (CUDA when CTranslate2/torch see a GPU).
    device: str = "auto"
    #: CTranslate2 compute type; "auto" means int8 on CPU and float16 on CUDA.
    compute_type: str = "auto"
    #: Threads per engine batch (0 = the cores left by inter_threads). 1 by default, for throughput: a beam
    #: search over a small batch keeps one core busy but not two (threads wait on each other every decoding
    #: step), so a core per batch serves more requests than every core on one batch (CTranslate2's guidance:
    #: inter_threads for throughput, intra_threads for latency; bench/results/peers.md). More threads on one
    #: batch do not even buy a lone user latency with a model of OPUS-MT's size: on this project's 2-core bench
    #: machine two threads decoded one sentence at 0.5x the speed of one (they synchronise after every small
    #: matrix product); try intra_threads = 0, inter_threads = 1 only for large models, and measure.
    intra_threads: int = 1
    #: Batches CTranslate2 runs in parallel (0 = every available core divided by intra_threads): each is a
    #: translator replica sharing the one copy of the weights, and the micro-batcher keeps one batch in flight
    #: per replica. intra x inter is capped at the cores available (divided among workers), so workers never
    #: oversubscribe the CPU.
    inter_threads: int = 0
    #: Tokens in one engine batch, counted with padding (longest segment x segments). 4096 keeps the peak
    #: activation memory of a 600M-parameter model under ~1 GiB on CPU while still filling the cores.
    max_batch_tokens: int = 4096
    #: Hypothesis tokens one CPU engine batch may decode: segments x beam x output bound. A beam search step
    #: costs each hypothesis attention over everything decoded so far, so a batch of long outputs outgrows the
    #: core's caches: with a 256-token bound and beam 4, batches of 4-8 sentences served 1.2-1.3x the
    #: requests/s of batches of 16 on this project's 2-core bench machine, while short outputs (2 x input + 10)
    #: still gain up to batches of ~16 (bench/results/peers.md). 6144 is 6 sentences at 256 tokens and 16 of 40
    #: tokens at 2 x input + 10; a longer batch runs as sub-batches over the replicas. Not applied on a GPU,
    #: which gains from batches of hundreds of hypotheses. 0 turns the bound off.
    max_batch_decode_tokens: int = 6144
    #: Beam width by default. 4 is what OPUS-MT and NLLB were evaluated with; 1 (greedy) is ~2x faster.
    beam_size: int = 4
    #: Characters in one document. 200,000 is ~50 pages: larger inputs belong in a batch job, and the
    #: bound keeps one request from holding a worker for many minutes.
    max_document_chars: int = 200_000
    # -- documents (service/documents: HTML, DOCX, Markdown, subtitles, XLIFF, PO, PDF) ----------------------
    #: Bytes of one uploaded document: 20 MiB holds a 300-page Word file with pictures; the file is kept in the
    #: job store (once, and once per target translated), so this bounds the store's growth per job too.
    max_document_bytes: int = 20 * 1024 * 1024
    #: Paragraphs, cells, cues or XLIFF units in one document: each is a text through the pipeline, and 20,000 is
    #: far more than max_document_chars of prose has (so only files of many tiny units meet it).
    max_document_units: int = 20_000
    #: Pages read from one PDF: text extraction costs time per page even when the page has no text (scans).
    max_document_pages: int = 500
    #: Parts in a DOCX (a ZIP): Word files have a few dozen; thousands means a crafted file.
    max_zip_entries: int = 2_000
    #: Bytes a DOCX may unpack to, counted from its directory before anything is decompressed: a zip bomb (a few
    #: KB that unpack to gigabytes) is refused; 200 MiB is ten times max_document_bytes, enough for real pictures.
    max_zip_bytes: int = 200 * 1024 * 1024
    #: The longest ``?wait=SECONDS`` a document upload may hold its request open for the translated file: a
    #: small document comes back in one request, larger ones are polled, and no thread is held for minutes.
    max_document_wait_s: float = 60.0
    #: Sentences an extractive summary chooses among. A max_document_chars document of news prose has ~1,500;
    #: only documents of very short lines (lists, tables) have more, and are summarised from their first 5,000
    #: (flagged). Memory grows linearly with it (a sparse graph), time about quadratically: ~1 s at 5,000.
    summary_max_sentences: int = 5000
    #: Input tokens of a segment when the model itself declares no limit (Marian/NLLB declare 512/1024);
    #: longer segments are split at safe points and flagged.
    default_max_input_tokens: int = 512
    #: Output length bound when a request sets none: ratio x the longest input of the batch + extra tokens.
    #: Translations are rarely over twice their source; the bound stops a model that never emits its end token.
    max_output_ratio: float = 2.0
    max_output_extra: int = 10
    #: Beam search length penalty of the CTranslate2 engine (a hypothesis scores its log-probability / length **
    #: penalty): 1.0 is CTranslate2's default, a plain per-token average; lower values favour shorter outputs
    #: (LibreTranslate uses 0.2; bench/peers.py sets both sides equal).
    length_penalty: float = 1.0
    #: Timeout for one Apertium call (seconds); a stuck subprocess must not hold a worker forever.
    apertium_timeout_s: float = 60.0

    # -- throughput ----------------------------------------------------------------------------------------
    #: Cross-request micro-batching: the longest a call waits for others to join its engine batch. Only paid
    #: under load (an idle engine takes a lone call at once), and cut short once as many calls are queued as
    #: the last batch held; 20 ms is ~5% of a one-sentence translation on CPU. 0 turns batching off.
    micro_batch_wait_ms: float = 20.0
    #: Translation memory: "lru" (in-process), "redis" (shared through redis_url) or "off".
    memory: str = "lru"
    #: Bytes the in-process memory may hold: 256 MiB is ~500,000 sentences with their translations.
    memory_max_bytes: int = 256 * 1024 * 1024
    #: Seconds a Redis memory entry lives (Redis bounds its size with maxmemory + allkeys-lru).
    memory_ttl_s: int = 7 * 24 * 3600
    #: Seconds one Redis call of the memory may take (connect or answer): a lookup is a fraction of a millisecond
    #: when Redis is well, so 0.25 s only bounds what an unwell Redis costs a request before it is a miss.
    memory_redis_timeout_s: float = 0.25
    #: Seconds the memory leaves Redis alone after a failed call (then tries again): an outage costs one
    #: timeout per interval, not one per request.
    memory_retry_s: float = 5.0
    #: Human corrections (service/corrections.py, in the job store's database): every sentence is looked up before
    #: any engine runs, and an approved human translation is returned exactly. One indexed query per request and
    #: target; off only for measuring the engines themselves.
    memory_corrections: bool = True
    #: Whose corrections are used at once (the others wait as "pending", offered as suggestions, until a key with the
    #: admin role approves them: POST /v1/memory/<id>/approve, or `memory approve` on the command line), because a
    #: correction changes what the service answers for every caller. "auto": everyone's when keys are not required
    #: (a single team of trusted users), only admin keys' when they are; "admin": only admin keys' (and the
    #: operator's: the command line, TMX imports); "any": everyone's (a trusted team that also uses keys).
    corrections_approval: Literal["auto", "admin", "any"] = "auto"
    #: Similarity (0-100, rapidfuzz's normalised Indel ratio) from which a stored correction of a similar sentence
    #: is offered as a suggestion (never substituted); 0 turns suggestions off. At 85 a one-word change in a
    #: ten-word sentence is still offered, two sentences that share only their frame are not.
    memory_fuzzy_threshold: float = 85.0
    #: Corrections of the pair (of a length that could reach the threshold, newest first) compared per request:
    #: bounds the cost of suggestions to a few milliseconds however large the memory grows.
    memory_fuzzy_candidates: int = 5000
    #: Glossary layers (one per distinct list of glossary names in requests) kept built: each holds its term
    #: automata, so the cache is an LRU of this size rather than one layer per list ever seen.
    glossary_layer_cache: int = 32
    #: Seconds a worker may use a managed glossary's version before asking the database whether it changed (one
    #: small query): an edit made on any worker is used everywhere within this time, without a restart.
    glossary_refresh_s: float = 1.0
    #: Entries in one managed glossary: 1,000,000 loads and indexes in ~15 s and ~2 GiB per worker
    #: (bench/results/glossary-scale.md); national termbases have a few hundred thousand.
    max_glossary_entries: int = 1_000_000
    #: Bytes of one glossary file uploaded over HTTP: a 100,000-entry TBX-Basic file with three languages is
    #: ~50 MiB, so 256 MiB takes the largest termbases; larger files go through `glossary import` on the server.
    max_glossary_upload_bytes: int = 256 * 1024 * 1024

    # -- HTTP limits: each one bounds the work a single request can demand of a worker ------------------
    #: Characters in one text of a request: ~5 pages, a long news article with room to spare.
    max_text_chars: int = 20_000
    #: Texts in one request (``text`` as a list): enough for a page of UI strings; archives go to batch jobs.
    max_texts: int = 64
    #: Target languages in one request: the eight ASEAN targets plus the source language family.
    max_targets: int = 9
    #: Characters across all texts of a request (per target), i.e. about a minute of CPU per target.
    max_total_chars: int = 50_000
    #: Request body bytes (Flask's MAX_CONTENT_LENGTH); 1 MiB covers max_total_chars in any script
    #: (UTF-8 uses up to 3 bytes a character for Thai, Khmer, Lao, Burmese) plus JSON overhead.
    max_body_bytes: int = 1_048_576
    #: Nesting depth of a JSON body; our bodies are 3 deep, so 32 only refuses abuse.
    max_json_depth: int = 32
    #: Glossaries named in one request: each one is a layer of term matching on every sentence, and a
    #: deployment has a handful; 8 covers a domain glossary, an organisation's and a few project ones.
    max_glossaries: int = 8
    #: Rate limit in characters per key or client address, e.g. "200000/hour"; empty = off. Translation,
    #: detection, summaries and jobs all count characters x target languages (one currency).
    rate_limit: str = ""
    #: When the rate limiter's Redis is unreachable: "open" lets requests through (logged, counted as
    #: rate_limit_errors_total) so translation stays available; "closed" answers 503 with Retry-After, for
    #: deployments where the limit protects capacity that must not be overrun.
    rate_limit_failure_mode: str = "open"
    #: Seconds the rate limiter waits for Redis before the failure mode applies: a hung Redis must not hold
    #: every request; one round trip on a LAN takes well under a millisecond.
    rate_limit_timeout_s: float = 0.5
    #: Where rate-limit counters and the shared translation memory live: "redis://host:6379/0", or empty
    #: for in-process memory (counted per worker).
    redis_url: str = ""
    #: File of API keys: one ``<sha256 hex of the key> <name>`` a line (``python -m service keys new``).
    api_keys_file: str = ""
    #: Refuse requests without a valid API key (the file above must list at least one).
    require_api_key: bool = False
    #: Seconds between checks of the keys file for changes (a stat() call): a key revoked with `keys revoke`
    #: stops working on every worker within this time, without a restart.
    api_keys_reload_s: float = 2.0
    #: LibreTranslate's --require-api-key-origin: with require_api_key on, a request to a LibreTranslate route
    #: (/translate, /detect, /suggest, /translate_file) without a key whose Origin header matches this regular
    #: expression (e.g. "https://translate\\.example\\.gov") is let through, for a browser front end on another host.
    #: Any client can claim any Origin: this opens those routes, it does not protect them. Empty: off.
    api_key_origin: str = ""
    #: Route groups that stay open without a key when require_api_key is on: docs (/docs, /openapi.json),
    #: languages (/v1/languages, /languages), glossaries (/v1/glossaries...), metrics (/metrics). They hold
    #: no user data; a deployment's own glossary may hold terms it does not publish, so that group is closed.
    #: Health checks and the sign-in page are always open.
    public_endpoints: str = "docs,languages,metrics"
    #: Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (addresses or networks, comma-separated,
    #: e.g. "127.0.0.1,10.0.0.0/8"); from any other peer the headers are ignored. Empty: no proxy. Behind a
    #: proxy, without this every client shares the proxy's rate-limit bucket.
    trusted_proxies: str = ""
    #: How many trusted proxies add an X-Forwarded-For entry in front of this server (nginx alone: 1).
    proxy_hops: int = 1
    #: Session-signing key for the web form (CSRF tokens). Empty: a random key kept in ``secret_key_file``
    #: so that every worker of the server uses the same one.
    secret_key: str = ""
    secret_key_file: Path = Field(default_factory=lambda: _default_models_dir().parent / "secret_key")
    #: gunicorn workers; each holds its own copy of every model, so more workers cost memory, not speed.
    workers: int = 1
    #: request threads per worker. Threads mostly wait (in the micro-batcher, on the engine, on the network),
    #: and concurrent requests can only share an engine batch if each has a thread: 32 lets 32 one-sentence
    #: requests form one batch. The cores are used by the engines' own threads, not these.
    server_threads: int = 32
    #: seconds a request may take before gunicorn restarts the worker, and the grace period on SIGTERM.
    request_timeout_s: int = 300
    graceful_timeout_s: int = 60
    #: Seconds a client has to send its request (head and body up to request_buffer_bytes) while the worker
    #: reads it without a thread; slower clients get 408. 30 s is 1 MiB at ~35 KB/s.
    request_read_timeout_s: float = 30.0
    #: Bytes of a request read before a thread takes it (all of any /v1 body: max_body_bytes, plus headers).
    #: Larger uploads (jobs) are read on by their thread. Memory bound: max_connections x this, per worker.
    request_buffer_bytes: int = 1_048_576 + 65_536
    #: Open connections per worker (being read, served or kept alive); more wait in the listen queue.
    max_connections: int = 256
    #: Requests a worker serves before it is replaced (with jitter of a tenth), to bound any slow leak.
    max_requests: int = 2000
    # -- batch jobs ------------------------------------------------------------------------------------------
    #: Where the embedded job store and broker live (SQLite files) when no URLs are given.
    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Job store (SQLAlchemy URL): empty = SQLite in data_dir (one machine); "postgresql+psycopg://..." for
    #: several machines sharing one store.
    jobs_database_url: str = ""
    #: Celery broker: empty = embedded (kombu's SQLAlchemy transport on SQLite in data_dir: no server to run,
    #: one machine, polling adds ~1 s latency per task); "redis://..." or "amqp://..." to scale out.
    broker_url: str = ""
    #: Documents in one job: 10,000 is a large archive; more belongs in several jobs (progress stays readable
    #: and one job cannot monopolise the workers for days).
    max_job_documents: int = 10_000
    #: Bytes of documents in one job: 50 MiB is ~10,000 news articles.
    max_job_bytes: int = 50 * 1024 * 1024
    #: Documents per task: small enough that a lost worker costs little redone work, large enough that task
    #: overhead (a broker round trip) stays under 1% of the work.
    job_chunk_documents: int = 8
    #: Attempts per document before it is marked failed (a poison document must not block its job).
    job_max_attempts: int = 3
    #: Seconds a call to a SQLite job store waits for another process's write lock before it counts as the store
    #: being unavailable (the chunk is then retried later): long enough for any normal write to finish.
    jobs_lock_timeout_s: float = 30.0
    #: Seconds before a task taken by a worker that died is handed to another (Redis/SQS brokers), and before a
    #: job without progress while the queue is empty has its pending documents queued again (a lost task
    #: message). It must exceed the longest chunk; a chunk of 8 articles x 8 targets takes ~1 minute on 2 cores.
    jobs_visibility_timeout_s: int = 600
    #: `serve` starts a local worker itself when the broker is the embedded one.
    embedded_worker: bool = True

    #: Pairs whose engines are loaded at start-up, before /readyz says ready ("id-en,id-ms" or "auto": every
    #: pair from Indonesian that has an engine on this machine).
    preload: str = "auto"

    # -- licences and LLM back ends --------------------------------------------------------------------------
    #: Which model licences the router may use: "permissive" (the default: any licence that allows every use,
    #: commercial included; non-commercial, no-derivatives, research-only and unknown licences are skipped) or
    #: "any". A government service must be able to run its default legally for any purpose; NLLB-200
    #: (CC-BY-NC-4.0) is an opt-in for non-commercial deployers.
    license_policy: str = "permissive"
    #: OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama, TGI), e.g.
    #: "http://127.0.0.1:8000/v1"; empty = no such server, the catalog's openai candidates are skipped.
    openai_base_url: str = ""
    #: Bearer key for that server (local servers usually accept any).
    openai_api_key: str = ""
    #: Seconds one chat request may take before it fails (EngineFailed): a stuck server must not hold a worker.
    #: 120 s covers a long paragraph from a 9B model on one GPU with room to spare.
    openai_timeout_s: float = 120.0
    #: Retries of a failed request (connection errors, 408/409/429/5xx), with exponential backoff and jitter.
    openai_max_retries: int = 2
    #: Requests one engine call keeps in flight: servers batch concurrent requests (vLLM continuous batching);
    #: 8 fills a small GPU server without queueing other clients behind one document.
    openai_concurrency: int = 8
    #: Context window assumed for an LLM (tokens, prompt + output); segments longer than a third of it are
    #: split (a translation may be twice its input). 4096 fits every current chat model.
    llm_context_tokens: int = 4096
    #: Sampling temperature for LLM engines: 0 (greedy) makes translations repeatable and cacheable.
    llm_temperature: float = 0.0
    #: llamacpp: chat template name of llama-cpp-python ("gemma", "chatml", "llama-3"...) for GGUF files that
    #: carry none; empty = the file's own template.
    llamacpp_chat_format: str = ""
    #: llamacpp: seconds one generation may take before it is stopped and reported as an engine failure.
    llamacpp_timeout_s: float = 300.0

    @property
    def threads(self) -> tuple[int, int]:
        """(intra, inter) thread counts, intra x inter never above the cores available (0 = what is left)."""
        cores = max(1, available_cores() // max(1, self.workers))  # each worker gets its share
        intra = min(self.intra_threads, cores) if self.intra_threads > 0 else 0
        inter = min(self.inter_threads, cores) if self.inter_threads > 0 else 0
        if not intra and not inter:  # both "what is left": throughput, one core per batch
            intra = 1
        inter = inter or max(1, cores // intra)
        intra = intra or max(1, cores // inter)
        return max(1, min(intra, cores // inter)), inter

    @property
    def engine_cores(self) -> int:
        """Cores of one engine in all (intra x inter): for engines that run one batch at a time on every core
        they have (transformers on torch, llama.cpp)."""
        intra, inter = self.threads
        return intra * inter

    @property
    def jobs_db(self) -> str:
        return self.jobs_database_url or f"sqlite:///{self.data_dir / 'jobs.sqlite'}"

    @property
    def broker(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"

    @property
    def embedded_broker(self) -> bool:
        return not self.broker_url

    @property
    def default_glossary_names(self) -> list[str]:
        return [n.strip() for n in self.default_glossaries.split(",") if n.strip()]

    def replace(self, **changes: Any) -> Settings:
        try:
            return type(self)(**(self.model_dump() | changes))
        except ValidationError as exc:
            raise ConfigError(_one_sentence(exc)) from None

    @field_validator("*", mode="before")
    @classmethod
    def _plain_values(cls, value: Any, info: Any) -> Any:
        """``~`` in paths is the home folder; an empty environment variable is false for a yes/no setting."""
        kind = cls.model_fields[info.field_name].annotation
        if kind in (Path, "Path") and isinstance(value, str):
            return Path(os.path.expanduser(value))
        if kind in (bool, "bool") and isinstance(value, str) and not value.strip():
            return False
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the file and the environment are read by load_settings(), in one place


#: What a value of each kind must look like, for the one-sentence error (pydantic's error types).
_EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false", "path": "a path",
             "string": "text"}


def _one_sentence(error: ValidationError, where: str = "") -> str:
    """A validation error as one sentence naming the setting and what it takes (no library text)."""
    problems = error.errors()
    first = problems[0]
    name = ".".join(str(part) for part in first["loc"]) or "?"
    more = len(problems) - 1
    tail = "" if not more else f" (and {more} more problem{'s' if more > 1 else ''})"
    if first["type"] == "extra_forbidden":
        return f"Unknown setting {name}{where}{tail}; the settings are listed in service/config.py."
    kind = next((text for prefix, text in _EXPECTED.items() if first["type"].startswith(prefix)), None)
    expected = f": it must be {kind}" if kind else ""
    return f"Setting {name}{where} has an invalid value {first.get('input')!r}{expected}{tail}."


def _read_toml(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"The settings file {path} does not exist; check --config or ASEAN_MT_CONFIG.") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"Cannot read the settings file {path}; check that it is a readable UTF-8 text file."
                          ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))  # only the line number is taken from the parser's message
        at = f" (line {line.group(1)})" if line else ""
        raise ConfigError(f"The settings file {path} is not valid TOML{at}; fix it or leave it out.") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        noun = "setting" if len(unknown) == 1 else "settings"
        raise ConfigError(f"Unknown {noun} in {path}: {', '.join(unknown)}; the settings are listed in "
                          "service/config.py.")
    return data


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """``ASEAN_MT_<FIELD>`` variables, read by pydantic-settings (other ``ASEAN_MT_*`` variables are ignored)."""
    source = EnvSettingsSource(Settings, case_sensitive=False, env_prefix=ENV_PREFIX)
    source.env_vars = parse_env_vars(environ, False, False, None)
    return source()


def load_settings(toml_path: str | Path | None = None, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> Settings:
    """Settings from (lowest to highest priority) defaults, a TOML file, the environment, ``overrides``.

    The TOML file is ``toml_path`` or ``$ASEAN_MT_CONFIG``; its keys are the field names, and an unknown key is
    an error (a misspelt setting must not be silently ignored). Every problem is a :class:`ConfigError`.
    """
    env = os.environ if environ is None else environ
    path = toml_path or env.get(ENV_PREFIX + "CONFIG")
    from_file = _read_toml(path) if path else {}
    later = _from_environment(env) | {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**(from_file | later))
    except ValidationError as exc:
        name = exc.errors()[0]["loc"][0] if exc.errors()[0]["loc"] else None
        raise ConfigError(_one_sentence(exc, f" in {path}" if name in from_file and name not in later else "")
                          ) from None
