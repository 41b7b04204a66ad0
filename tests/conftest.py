"""Session fixtures: tiny random-weight models (Marian, NLLB-style M2M100, M2M100, MADLAD-style T5, T5) built
offline, installed through the real ``ModelStore.add`` (which converts them to CTranslate2), and a catalog that
routes to them. Catalog entries carry licences: the default license_policy skips models whose licence is
unknown."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from service.catalog import Catalog
from service.config import Settings
from service.engines.router import EngineRouter
from service.model_store import ModelStore
from service.pipeline import Pipeline
from tests import model_factory

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Settings() and the CLI default to the user's data folder (~/.local/share/asean-mt: job store, corrections):
# tests get a folder of their own, so that runs side by side (and the user's own data) never meet.
os.environ.setdefault("ASEAN_MT_DATA_DIR", tempfile.mkdtemp(prefix="asean-mt-tests-"))

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "examples" / "ascn-shepherd-2025.id.txt"
SHARED_EVAL = REPO.parent / "shared" / "eval" / "tico19"

TEST_CATALOG = """
[models."tiny/marian-id-en"]
family = "marian"
pairs = ["id-en"]
license = "apache-2.0"

[models."tiny/marian-multi"]
family = "marian"
pairs = ["id-ms", "id-tl"]
target_tokens = { ms = ">>zsm_Latn<<", tl = ">>tgl<<" }
license = "apache-2.0"

[models."tiny/nllb"]
family = "nllb"
languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]
license = "mit"

[models."tiny/m2m100"]
family = "m2m100"
languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]
license = "mit"

[models."tiny/madlad"]
family = "madlad"
languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]
target_tokens = { tl = "<2fil>" }
license = "apache-2.0"

[models."tiny/t5"]
family = "t5"
languages = ["en", "id"]
prompt = "summarize.t5"
license = "apache-2.0"

[models."ind-zlm"]
family = "apertium"
pairs = ["id-ms"]
package = "apertium-ind-zlm"
license = "gpl-3.0"

[routes]
"id-en" = ["ctranslate2:tiny/marian-id-en", "transformers:tiny/marian-id-en"]
"id-ms" = ["apertium:ind-zlm", "ctranslate2:tiny/marian-multi"]
"id-tl" = ["ctranslate2:tiny/marian-multi", "transformers:tiny/marian-multi"]
"en-id" = ["ctranslate2:tiny/t5", "transformers:tiny/t5"]
"*" = ["ctranslate2:tiny/nllb", "transformers:tiny/nllb"]

[summarizers]
"*" = ["ctranslate2:tiny/t5", "transformers:tiny/t5"]
"""


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("build")
    root = tmp_path_factory.mktemp("models")
    store = ModelStore(root)
    store.add(model_factory.build_marian(build / "marian-id-en"), "tiny/marian-id-en")
    store.add(model_factory.build_marian(build / "marian-multi", target_tokens=[">>zsm_Latn<<", ">>tgl<<"]),
              "tiny/marian-multi")
    store.add(model_factory.build_nllb(build / "nllb"), "tiny/nllb")
    store.add(model_factory.build_t5(build / "t5"), "tiny/t5")
    store.add(model_factory.build_m2m100(build / "m2m100"), "tiny/m2m100")
    store.add(model_factory.build_madlad(build / "madlad"), "tiny/madlad")
    return root


@pytest.fixture(scope="session")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.toml"
    path.write_text(TEST_CATALOG, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def settings(models_dir: Path, catalog_path: Path) -> Settings:
    return Settings(models_dir=models_dir, catalog_path=catalog_path, intra_threads=1, beam_size=2,
                    data_dir=models_dir.parent / "data", secret_key_file=models_dir.parent / "secret_key")


@pytest.fixture(scope="session")
def router(settings: Settings) -> EngineRouter:
    """One router for the session: each engine is loaded once, as in a server process."""
    return EngineRouter(settings)


@pytest.fixture(scope="session")
def catalog(router: EngineRouter) -> Catalog:
    return router.catalog


@pytest.fixture(scope="session")
def pipeline(settings: Settings, router: EngineRouter) -> Pipeline:
    return Pipeline(settings, router)


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")
