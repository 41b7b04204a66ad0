"""Licences in the catalog and the license_policy; the M2M100 and MADLAD families end to end on tiny models of
their real architectures, on CTranslate2 and transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.catalog import Candidate, Catalog, license_allowed, license_class
from service.config import PACKAGE_DIR, Settings
from service.engines.base import DecodeOptions
from service.engines.router import EngineRouter
from service.errors import ConfigError, ModelMissing
from service.model_store import ModelStore, card_license
from service.pipeline import Pipeline, TranslationRequest
from tests.conftest import SEED, TEST_CATALOG


def test_every_shipped_catalog_model_carries_licence_size_languages_and_source() -> None:
    catalog = Catalog.load(PACKAGE_DIR / "catalog.toml")
    for model in catalog.models.values():
        assert license_class(model.license) != "unknown", model.id
        assert model.source, model.id
        assert model.languages or model.pairs, model.id
        if model.family != "apertium":
            assert model.size, model.id
    # the licences verified on the model cards (see the catalog's source lines)
    expected = {"Helsinki-NLP/opus-mt-id-en": "apache-2.0", "facebook/m2m100_418M": "mit",
                "google/madlad400-3b-mt": "apache-2.0", "facebook/nllb-200-distilled-600M": "cc-by-nc-4.0",
                "csebuetnlp/mT5_multilingual_XLSum": "cc-by-nc-sa-4.0"}
    assert {k: catalog.models[k].license for k in expected} == expected


def test_every_pair_has_a_permissive_route_by_default(tmp_path: Path) -> None:
    """On an empty machine, every pair's "how to make it work" names a model the default policy allows."""
    settings = Settings(models_dir=tmp_path / "none")
    router = EngineRouter(settings)
    assert settings.license_policy == "permissive"
    for source, target in router.catalog.pairs():
        status = router.status(source, target)
        if status.available is not None:
            assert license_allowed(status.license, "permissive")
            continue
        assert status.missing, f"{source}-{target}"
        assert all(license_allowed(c.model.license, "permissive") for c in status.missing)
        assert "nllb" not in status.needs.split(":")[0]


def test_license_classes_and_policy() -> None:
    assert license_class("MIT") == "permissive" and license_class("apache-2.0") == "permissive"
    assert license_class("cc-by-nc-4.0") == "non-commercial" and license_class("cc-by-nc-sa-4.0") == "non-commercial"
    assert license_class("cc-by-nd-4.0") == "no-derivatives" and license_class("gemma") == "use-restricted"
    assert license_class("other") == "unknown"
    assert license_allowed("cc-by-nc-4.0", "any") and not license_allowed("cc-by-nc-4.0", "permissive")
    assert license_allowed("gpl-3.0", "permissive") and not license_allowed("unknown", "permissive")
    with pytest.raises(ConfigError):
        license_allowed("mit", "lenient")


NC_CATALOG = TEST_CATALOG.replace('[models."tiny/nllb"]\nfamily = "nllb"', '[models."tiny/nllb"]\nfamily = "nllb"\n'
                                  'license = "cc-by-nc-4.0"\nsize = "1 MB"', 1).replace(
    'languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]\nlicense = "mit"\n\n[models."tiny/m2m100"]',
    'languages = ["id", "en", "ms", "th", "vi", "tl", "km", "lo", "my"]\n\n[models."tiny/m2m100"]', 1).replace(
    '"*" = ["ctranslate2:tiny/nllb", "transformers:tiny/nllb"]',
    '"*" = ["ctranslate2:tiny/nllb", "transformers:tiny/nllb", "ctranslate2:tiny/m2m100"]')


def test_router_skips_models_the_policy_excludes_and_says_so(settings: Settings, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(NC_CATALOG, encoding="utf-8")
    permissive = EngineRouter(settings.replace(catalog_path=catalog, license_policy="permissive"))
    status = permissive.status("id", "th")
    assert str(status.available) == "ctranslate2:tiny/m2m100" and status.license == "mit"
    assert [str(c) for c, _ in status.excluded] == ["ctranslate2:tiny/nllb", "transformers:tiny/nllb"]
    anything = EngineRouter(settings.replace(catalog_path=catalog, license_policy="any"))
    assert str(anything.status("id", "th").available) == "ctranslate2:tiny/nllb"

    only_nc = tmp_path / "only-nc.toml"
    only_nc.write_text(NC_CATALOG.replace(', "ctranslate2:tiny/m2m100"]', "]"), encoding="utf-8")
    router = EngineRouter(settings.replace(catalog_path=only_nc, license_policy="permissive"))
    with pytest.raises(ModelMissing) as missing:
        router.engine_for("id", "th")
    assert "license_policy = permissive skips tiny/nllb: cc-by-nc-4.0 (non-commercial)" in missing.value.message
    assert 'license_policy = "any"' in missing.value.message
    assert missing.value.details["excluded_by_license_policy"] == ["tiny/nllb"]


def test_recorded_card_licence_wins_over_the_catalog(settings: Settings, models_dir: Path, tmp_path: Path) -> None:
    """A local folder whose model card says non-commercial is skipped, whatever the catalog assumed."""
    folder = tmp_path / "m2m"
    shutil.copytree(models_dir / "tiny--m2m100" / "hf", folder)
    (folder / "README.md").write_text("---\nlicense: cc-by-nc-4.0\ntags:\n- translation\n---\n# fine-tune\n")
    assert card_license(folder) == "cc-by-nc-4.0"
    store = ModelStore(tmp_path / "models")
    store.add(folder, "tiny/m2m100", convert=False)
    assert store.license("tiny/m2m100") == "cc-by-nc-4.0"
    info = json.loads((store.path("tiny/m2m100") / "model.json").read_text())
    assert info == {"id": "tiny/m2m100", "license": "cc-by-nc-4.0", "license_from": "README.md metadata"}
    router = EngineRouter(settings.replace(models_dir=tmp_path / "models",
                                           catalog_path=star_route(tmp_path, "tiny/m2m100")))
    candidate = Candidate("transformers", router.catalog.models["tiny/m2m100"])
    assert router.license_of(candidate) == "cc-by-nc-4.0"
    status = router.status("id", "km")  # the "*" route is m2m100, whose card excludes it
    assert status.available is None
    assert ("tiny/m2m100", "cc-by-nc-4.0") in {(c.model.id, lic) for c, lic in status.excluded}
    # a folder without a card records "unknown"
    store.add(models_dir / "tiny--t5" / "hf", "tiny/t5", convert=False)
    assert store.license("tiny/t5") == "unknown"


def test_models_list_and_add_show_licences(models_dir: Path, catalog_path: Path, tmp_path: Path) -> None:
    from tests.test_cli import run

    folder = tmp_path / "marian"
    shutil.copytree(models_dir / "tiny--marian-id-en" / "hf", folder)
    (folder / "README.md").write_text("---\ntags:\n- translation\nlicense: apache-2.0\n---\n")
    added = run("models", "add", str(folder), "--name", "tiny/marian-id-en", "--no-convert",
                models_dir=tmp_path / "m", catalog=catalog_path)
    assert added.returncode == 0, added.stderr
    assert "licence: apache-2.0 (from the README.md metadata)" in added.stdout
    bare = run("models", "add", str(models_dir / "tiny--t5" / "hf"), "--name", "tiny/t5", "--no-convert",
               models_dir=tmp_path / "m", catalog=catalog_path)
    assert "licence: unknown (from the README.md metadata); catalog: apache-2.0" in bare.stdout
    listed = run("models", "list", models_dir=tmp_path / "m", catalog=catalog_path)
    assert listed.returncode == 0, listed.stderr
    assert "license policy: permissive" in listed.stdout
    assert "installed: tiny/marian-id-en (transformers), licence apache-2.0" in listed.stdout
    assert "installed: tiny/t5 (transformers), licence unknown on its card; catalog: apache-2.0" in listed.stdout
    assert "id-en  served by transformers:tiny/marian-id-en (apache-2.0)" in listed.stdout
    assert "id-ms  served by apertium:ind-zlm (gpl-3.0 (copyleft))" in listed.stdout


def star_route(tmp_path: Path, model: str) -> Path:
    """The test catalog with its "*" route on ``model``."""
    catalog = tmp_path / "star.toml"
    catalog.write_text(TEST_CATALOG.replace('"*" = ["ctranslate2:tiny/nllb", "transformers:tiny/nllb"]',
                                            f'"*" = ["ctranslate2:{model}", "transformers:{model}"]'))
    return catalog


# -- M2M100 and MADLAD, end to end ----------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
@pytest.mark.parametrize("model", ["tiny/m2m100", "tiny/madlad"])
def test_m2m100_and_madlad_translate_through_both_engines(router: EngineRouter, model: str, engine: str) -> None:
    built = router.build(Candidate(engine, router.catalog.models[model]))
    segments = ["Indonesia kembali dipilih sebagai Shepherd ASEAN Smart City Network.", "Kota cerdas di ASEAN."]
    for target in ("km", "tl", "en"):
        out = built.translate(segments, "id", target, DecodeOptions(beam_size=2, max_output_tokens=8))
        assert len(out) == 2 and all(o.output_tokens > 0 for o in out)
        assert all(0 < o.input_tokens <= 40 for o in out)


def test_m2m100_forces_the_target_language_token(router: EngineRouter) -> None:
    """Source token set on the tokenizer (``__id__`` first), target token forced as the first output token:
    the output of CTranslate2 starts with ``__km__`` before the adapter strips it."""
    engine = router.build(Candidate("ctranslate2", router.catalog.models["tiny/m2m100"])).inner
    adapter = engine.adapter
    ids = adapter.encode(["Kota cerdas."], "id", "km")[0]
    assert adapter.tokenizer.convert_ids_to_tokens(ids)[0] == "__id__"
    assert adapter.target_token("km") == "__km__"
    tokens = adapter.tokenizer.convert_ids_to_tokens(ids)
    raw = engine.translator.translate_batch([tokens], target_prefix=[["__km__"]], max_decoding_length=4)
    assert raw[0].hypotheses[0][0] == "__km__"


def test_madlad_prefixes_the_target_token_and_knows_filipino(router: EngineRouter) -> None:
    engine = router.build(Candidate("transformers", router.catalog.models["tiny/madlad"])).inner
    adapter = engine.adapter
    tokens = adapter.tokenizer.convert_ids_to_tokens(adapter.encode(["Kota cerdas."], "id", "ms")[0])
    assert tokens[0] == "<2ms>"
    assert adapter.tokenizer.convert_ids_to_tokens(adapter.encode(["Kota."], "id", "tl")[0])[0] == "<2fil>"
    assert adapter.target_token("ms") is None  # nothing forced on the decoder side


def test_madlad_without_the_target_token_is_an_unsupported_pair(settings: Settings, tmp_path: Path) -> None:
    from service.errors import UnsupportedPair

    catalog = tmp_path / "catalog.toml"
    catalog.write_text(TEST_CATALOG.replace('target_tokens = { tl = "<2fil>" }', 'target_tokens = { tl = "<2xx>" }'))
    router = EngineRouter(settings.replace(catalog_path=catalog))
    engine = router.build(Candidate("transformers", router.catalog.models["tiny/madlad"]))
    with pytest.raises(UnsupportedPair):
        engine.translate(["Kota."], "id", "tl", DecodeOptions(beam_size=1))


@pytest.mark.parametrize("model", ["tiny/m2m100", "tiny/madlad"])
def test_m2m100_and_madlad_routes_through_the_pipeline(settings: Settings, tmp_path: Path, model: str) -> None:
    s = settings.replace(catalog_path=star_route(tmp_path, model))
    pipeline = Pipeline(s, EngineRouter(s))
    text = SEED.read_text(encoding="utf-8")[:600]
    result = pipeline.translate(TranslationRequest(text, ["km", "vi"], "id", DecodeOptions(beam_size=1)))
    for r in result.results:
        assert r.ok, r.error
        assert (r.engine, r.model) == ("ctranslate2", model)
        assert r.terms is not None and r.terms.found > 0  # the glossary report covers these engines too
        assert r.text.count("\n") == text.count("\n")


def test_bad_policy_and_broken_llm_prompt_fail_at_start(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="license_policy must be one of any, permissive"):
        EngineRouter(settings.replace(license_policy="lenient"))
    (tmp_path / "prompts").mkdir()
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[models."x"]\nfamily = "llm"\nlanguages = ["id", "km"]\nlicense = "mit"\n'
                       'translate_prompt = "summarize.t5"\n[routes]\n"id-km" = ["openai:x"]\n')
    with pytest.raises(ConfigError, match=r"Prompt summarize\.t5 must use exactly"):
        EngineRouter(settings.replace(catalog_path=catalog))
