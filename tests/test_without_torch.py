"""The runtime install (and image) has no torch: CTranslate2 serves with transformers' tokenizers alone, the
transformers engine steps aside, and conversion says what to install. Run in a child process where torch
cannot be imported (``sys.modules["torch"] = None``, as if it were not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys
sys.modules["torch"] = None  # import torch now raises ImportError; find_spec("torch") is None
from pathlib import Path
from service.config import Settings
from service.engines.base import DecodeOptions
from service.engines.router import EngineRouter
from service.errors import ConfigError
from service.model_store import ModelStore
from service.pipeline import Pipeline

models, catalog, data, hf_source = map(Path, sys.argv[1:5])
settings = Settings(models_dir=models, catalog_path=catalog, intra_threads=1, beam_size=2, data_dir=data,
                    secret_key_file=data / "secret_key", memory="off", micro_batch_wait_ms=0)
router = EngineRouter(settings)
out = {}
status = router.status("id", "en")  # ctranslate2 first, transformers second in the test catalog
out["route"] = str(status.available)
engine = router.engine_for("id", "en")
result = engine.translate(["Kementerian Dalam Negeri memimpin delegasi Indonesia."], "id", "en",
                          DecodeOptions(beam_size=2, max_output_tokens=6))
out["engine"] = engine.name if hasattr(engine, "name") else None
out["tokens"] = [result[0].input_tokens, result[0].output_tokens]
# a model present only as HF weights: the transformers route is not offered without torch
out["transformers_available"] = router.is_available(
    next(c for c in router.catalog.candidates("id", "en") if c.engine == "transformers"))
try:
    ModelStore(data / "more-models").add(hf_source, "tiny/copy")
    out["convert"] = "converted"
except ConfigError as exc:
    out["convert"] = exc.message
out["torch_loaded"] = sys.modules.get("torch") is not None
print(json.dumps(out))
"""


@pytest.mark.slow
def test_ctranslate2_serves_without_torch(models_dir: Path, catalog_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    hf_source = models_dir / "tiny--marian-id-en" / "hf"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(models_dir), str(catalog_path), str(tmp_path),
                           str(hf_source)], capture_output=True, text=True, env=env, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["route"] == "ctranslate2:tiny/marian-id-en"
    assert out["tokens"][0] > 0 and out["tokens"][1] == 6
    assert out["transformers_available"] is False
    assert "needs torch" in out["convert"] and "asean-mt[full]" in out["convert"]
    assert not (tmp_path / "more-models" / "tiny--copy").exists()
    assert out["torch_loaded"] is False
