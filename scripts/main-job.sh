#!/usr/bin/env bash
# The main job: translate the example article into English and the seven other ASEAN languages with whatever
# engines this machine has, with a two-sentence summary in each language that has an engine, then list each
# target's engine or the exact command that makes it work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m service translate examples/ascn-shepherd-2025.id.txt --from id \
  --to en,ms,th,vi,tl,km,lo,my --summary --sentences 2 "$@"
