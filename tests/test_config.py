"""Settings: defaults < TOML file < environment < overrides, immutable, and every problem one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import Settings, load_settings
from service.errors import ConfigError


def test_sources_in_order_of_priority(tmp_path: Path) -> None:
    path = tmp_path / "asean-mt.toml"
    path.write_text('beam_size = 2\nmax_texts = 10\nmodels_dir = "~/models"\n', encoding="utf-8")
    env = {"ASEAN_MT_CONFIG": str(path), "ASEAN_MT_MAX_TEXTS": "20", "ASEAN_MT_REQUIRE_API_KEY": "yes",
           "ASEAN_MT_BIND": "0.0.0.0:1"}  # not a setting (read by gunicorn_conf): ignored
    s = load_settings(environ=env, max_body_bytes=5)
    assert (s.beam_size, s.max_texts, s.require_api_key, s.max_body_bytes) == (2, 20, True, 5)
    assert s.models_dir == Path("~/models").expanduser()
    assert load_settings(environ={"ASEAN_MT_REQUIRE_API_KEY": ""}).require_api_key is False
    assert Settings().beam_size == Settings.model_fields["beam_size"].default  # no file, no environment


def test_immutable_with_validated_replace() -> None:
    s = Settings()
    with pytest.raises(ValueError):
        s.beam_size = 1  # type: ignore[misc]
    changed = s.replace(beam_size="3", models_dir="/tmp/m")
    assert (changed.beam_size, changed.models_dir, s.beam_size) == (3, Path("/tmp/m"), Settings().beam_size)
    with pytest.raises(ConfigError, match=r"^Unknown setting beem_size;"):
        s.replace(beem_size=3)


@pytest.mark.parametrize(("toml", "env", "message"), [
    ('beam_size = "four"\n', {}, "Setting beam_size in {path} has an invalid value 'four': it must be a whole "
                                 "number."),
    ("beam_size = = 2\n", {}, "The settings file {path} is not valid TOML (line 1); fix it or leave it out."),
    ("beem_size = 2\nworkerz = 1\n", {}, "Unknown settings in {path}: beem_size, workerz; the settings are listed "
                                         "in service/config.py."),
    (None, {"ASEAN_MT_EMBEDDED_WORKER": "maybe"}, "Setting embedded_worker has an invalid value 'maybe': it must "
                                                  "be true or false."),
    (None, {"ASEAN_MT_BEAM_SIZE": "1", "ASEAN_MT_MAX_TEXTS": "x", "ASEAN_MT_WORKERS": "y"},
     "Setting max_texts has an invalid value 'x': it must be a whole number (and 1 more problem)."),
])
def test_errors_are_one_sentence_without_library_text(tmp_path: Path, toml: str | None, env: dict[str, str],
                                                      message: str) -> None:
    path = tmp_path / "settings.toml"
    if toml is not None:
        path.write_text(toml, encoding="utf-8")
        env = {**env, "ASEAN_MT_CONFIG": str(path)}
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env)
    assert caught.value.message == message.format(path=path)


def test_missing_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml", environ={})
    assert caught.value.message == (f"The settings file {tmp_path / 'nope.toml'} does not exist; check --config or "
                                    "ASEAN_MT_CONFIG.")
    assert "Error" not in caught.value.message
