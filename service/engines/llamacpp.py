"""The ``llamacpp`` engine: a local GGUF model through ``llama-cpp-python``, for one machine without a GPU server.

The model file is installed with ``python -m service models add FILE.gguf --name ID`` (its licence is read
from the file's ``general.license``). One generation runs at a time (a llama.cpp context is not thread-safe;
its own threads use the cores); ``llamacpp_timeout_s`` bounds one generation, which is stopped and reported as
an engine failure when it runs over. ``llama-cpp-python`` is an optional dependency (it compiles llama.cpp
when no wheel fits the machine): without it this engine says how to install it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from service.catalog import ModelInfo
from service.config import Settings
from service.engines.llm import ChatReply, LLMEngine
from service.errors import ConfigError, EngineFailed, ModelInvalid

log = logging.getLogger(__name__)

INSTALL_HINT = ("The llamacpp engine needs llama-cpp-python: run `pip install llama-cpp-python` (it compiles "
                "llama.cpp where no prebuilt wheel fits: about 17 minutes on 2 cores).")


class LlamaCppEngine(LLMEngine):
    name = "llamacpp"

    def __init__(self, info: ModelInfo, gguf_path: Path, settings: Settings, detector: object | None = None):
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ConfigError(INSTALL_HINT) from exc
        super().__init__(info, settings, detector)
        self.timeout_s = settings.llamacpp_timeout_s
        self.path = gguf_path
        try:
            self.llm: Any = Llama(model_path=str(gguf_path), n_ctx=settings.llm_context_tokens,
                                  n_threads=settings.engine_cores, chat_format=settings.llamacpp_chat_format or None,
                                  seed=0, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelInvalid(f"The GGUF model {info.id} in {gguf_path} cannot be loaded "
                               f"({exc.__class__.__name__}); add it again.") from exc
        #: the model's own context length bounds the setting
        trained = int(self.llm.n_ctx())
        if trained < self.context_tokens:
            self.context_tokens = trained
            self.max_input_tokens = max(16, (trained - 256) // 3)
        self._lock = threading.Lock()

    def count_raw_tokens(self, text: str) -> int:
        return max(1, len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)))

    def _chat(self, prompt: str, max_tokens: int) -> ChatReply:
        deadline = time.monotonic() + self.timeout_s
        parts: list[str] = []
        finish = "stop"
        produced = 0
        with self._lock:
            try:
                stream = self.llm.create_chat_completion(
                    messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens,
                    temperature=self.temperature, seed=0, stream=True)
                for chunk in stream:
                    choice = chunk["choices"][0]
                    content = choice.get("delta", {}).get("content")
                    if content:
                        parts.append(content)
                        produced += 1
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if time.monotonic() > deadline:
                        stream.close()
                        raise EngineFailed(f"The local model {self.model} did not finish within "
                                           f"{self.timeout_s:g} s (setting llamacpp_timeout_s).", engine=self.name)
            except EngineFailed:
                raise
            except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context
                log.warning("llama.cpp failed on %s: %s", self.model, exc)
                raise EngineFailed(f"The local model {self.model} failed ({exc.__class__.__name__}).",
                                   engine=self.name) from exc
        return ChatReply("".join(parts), self.count_raw_tokens(prompt), produced, finish)
