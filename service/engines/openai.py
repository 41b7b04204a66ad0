"""The ``openai`` engine: any server with the OpenAI-compatible chat-completions API (vLLM, llama.cpp server,
Ollama, TGI), through the official ``openai`` client.

Settings: ``openai_base_url`` (e.g. ``http://gpu-host:8000/v1``), ``openai_api_key``, ``openai_timeout_s``,
``openai_max_retries`` (the client retries connection errors, 408, 409, 429 and 5xx with exponential backoff and
jitter), ``openai_concurrency`` (requests in flight per call; the server batches them). The model's name on the
server is the catalog entry's ``served_name`` (default: its id). Every failure (a timeout, a server that is down
or was killed mid-request, an HTTP error) becomes :class:`EngineFailed` with one sentence naming the server:
HTTP 502 and exit code 5, never a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from service.catalog import ModelInfo
from service.config import Settings
from service.engines.llm import ChatReply, LLMEngine
from service.errors import ConfigError, EngineFailed

log = logging.getLogger(__name__)

#: How long the server's model list is trusted before it is asked again (seconds), and how long a failed
#: listing is remembered: `models list` and /v1/languages stay fast while the server is down.
MODELS_TTL_S = 30.0
MODELS_FAILURE_TTL_S = 5.0
#: Seconds to wait for the model list (a status query must not hang on a dead server).
MODELS_TIMEOUT_S = 5.0

_models_cache: dict[str, tuple[float, frozenset[str]]] = {}
_models_lock = threading.Lock()


def _client(settings: Settings, timeout: float, retries: int) -> Any:
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ConfigError("The openai engine needs the `openai` package: pip install openai.") from exc
    return openai.OpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                         timeout=timeout, max_retries=retries)


def server_models(settings: Settings) -> frozenset[str]:
    """The model names the configured server serves (empty when it cannot be reached); cached briefly."""
    url = settings.openai_base_url
    now = time.monotonic()
    with _models_lock:
        cached = _models_cache.get(url)
        if cached is not None and now < cached[0]:
            return cached[1]
    try:
        names = frozenset(m.id for m in _client(settings, MODELS_TIMEOUT_S, 0).models.list())
        expires = now + MODELS_TTL_S
    except Exception as exc:  # any failure means: nothing is served from there now
        log.warning("the OpenAI-compatible server at %s cannot list its models (%s)", url, exc.__class__.__name__)
        names, expires = frozenset(), now + MODELS_FAILURE_TTL_S
    with _models_lock:
        _models_cache[url] = (expires, names)
    return names


class OpenAIEngine(LLMEngine):
    name = "openai"

    def __init__(self, info: ModelInfo, settings: Settings, detector: object | None = None):
        if not settings.openai_base_url:
            raise ConfigError("The openai engine needs the setting openai_base_url (e.g. http://127.0.0.1:8000/v1).")
        super().__init__(info, settings, detector)
        import openai

        self._errors = openai
        self.base_url = settings.openai_base_url
        self.served_name = info.served_name or info.id
        self.timeout_s = settings.openai_timeout_s
        self.concurrency = max(1, settings.openai_concurrency)
        self.client = _client(settings, settings.openai_timeout_s, settings.openai_max_retries)
        self.revision = self.served_name

    def _chat(self, prompt: str, max_tokens: int) -> ChatReply:
        errors = self._errors
        where = f"The LLM server at {self.base_url} ({self.served_name})"
        try:
            response = self.client.chat.completions.create(
                model=self.served_name, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens,
                temperature=self.temperature)
        except errors.APITimeoutError as exc:
            raise EngineFailed(f"{where} did not answer within {self.timeout_s:g} s.", engine=self.name) from exc
        except errors.APIConnectionError as exc:
            raise EngineFailed(f"{where} cannot be reached or closed the connection; check that it is running.",
                               engine=self.name) from exc
        except errors.APIStatusError as exc:
            raise EngineFailed(f"{where} answered HTTP {exc.status_code}.", engine=self.name,
                               server_status=exc.status_code) from exc
        except errors.OpenAIError as exc:  # malformed answers and the rest of the client's family
            raise EngineFailed(f"{where} failed ({exc.__class__.__name__}).", engine=self.name) from exc
        if not response.choices:
            raise EngineFailed(f"{where} returned no answer.", engine=self.name)
        choice = response.choices[0]
        usage = response.usage
        return ChatReply(choice.message.content or "", usage.prompt_tokens if usage else 0,
                         usage.completion_tokens if usage else 0, choice.finish_reason or "stop")
