#!/usr/bin/env bash
# The tests, offline: lint, then pytest (tiny random models are built by the fixtures; real Apertium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error
.venv/bin/ruff check service tests bench
exec .venv/bin/python -m pytest "$@"
