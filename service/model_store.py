"""The models directory: pulling from the hub, adding local folders, converting to CTranslate2.

Layout: ``<models_dir>/<org>--<name>/hf`` (weights + tokenizer, for transformers and for tokenizing)
and ``.../ctranslate2`` (int8 conversion), or ``.../gguf/<file>.gguf`` for a llama.cpp model; beside them
``model.json`` records the licence read from the model card's metadata (README.md front matter, or the GGUF
file's ``general.license``), "unknown" when there is none. A model appears only when complete: it is built in a
``.partial-*`` folder next to its final place and renamed at the end, so an interrupted pull leaves
nothing that looks usable. Over an installed model, the old one stays in place until the new one is complete;
then it is renamed aside (``.old-*``), the new one renamed in, and the old one removed; if the swap fails, the
old one is put back (and a swap cut short by a crash is undone by the next pull or add of that model).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from service.errors import ConfigError, InvalidInput, ModelDownloadFailed, ModelInvalid

log = logging.getLogger(__name__)

#: Files a pull fetches: weights, configs, tokenizers. Other repos' extras (flax/tf/onnx weights) are skipped.
HF_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.spm", "*.txt", "sentencepiece*", "spiece*",
               "pytorch_model*.bin", "README.md"]
UNKNOWN_LICENSE = "unknown"
INFO_FILE = "model.json"


def card_license(hf_dir: Path) -> str:
    """The ``license:`` of a Hugging Face model card's metadata (``licenses:`` lists too), or "unknown"."""
    readme = hf_dir / "README.md"
    if not readme.is_file():
        return UNKNOWN_LICENSE
    from huggingface_hub.repocard import metadata_load

    try:
        meta = metadata_load(readme) or {}
    except Exception:  # malformed YAML front matter: no usable metadata
        return UNKNOWN_LICENSE
    value = meta.get("license") or meta.get("licenses")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip().lower() if value else UNKNOWN_LICENSE


def gguf_license(path: Path) -> str:
    """``general.license`` from a GGUF file's metadata, or "unknown"."""
    try:
        from gguf import GGUFReader

        field = GGUFReader(str(path)).fields.get("general.license")
        return str(field.contents()).strip().lower() if field is not None else UNKNOWN_LICENSE
    except Exception:  # not a GGUF file, or one the reader cannot parse: the engine will say so when loading
        return UNKNOWN_LICENSE
TOKENIZER_FILES = ("tokenizer.json", "source.spm", "spiece.model", "sentencepiece.bpe.model", "vocab.json")


def folder_name(model_id: str) -> str:
    return model_id.replace("/", "--")


@dataclass(frozen=True)
class InstalledModel:
    id: str
    path: Path
    has_hf: bool
    has_ct2: bool
    has_gguf: bool = False
    license: str = UNKNOWN_LICENSE


class ModelStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, model_id: str) -> Path:
        return self.root / folder_name(model_id)

    def hf_dir(self, model_id: str) -> Path:
        return self.path(model_id) / "hf"

    def ct2_dir(self, model_id: str) -> Path:
        return self.path(model_id) / "ctranslate2"

    def has_hf(self, model_id: str) -> bool:
        return (self.hf_dir(model_id) / "config.json").is_file()

    def has_ct2(self, model_id: str) -> bool:
        return (self.ct2_dir(model_id) / "model.bin").is_file() and self.has_hf(model_id)

    def gguf_file(self, model_id: str) -> Path | None:
        folder = self.path(model_id) / "gguf"
        files = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
        return files[0] if files else None

    def has_gguf(self, model_id: str) -> bool:
        return self.gguf_file(model_id) is not None

    def license(self, model_id: str) -> str:
        """The licence recorded when the model was pulled or added ("unknown" when its card had none)."""
        return self.license_info(model_id)[0]

    def license_info(self, model_id: str) -> tuple[str, str]:
        """(licence, where it was read: "README.md metadata" or "GGUF general.license")."""
        try:
            info = json.loads((self.path(model_id) / INFO_FILE).read_text(encoding="utf-8"))
            return str(info.get("license") or UNKNOWN_LICENSE), str(info.get("license_from", ""))
        except (OSError, ValueError):
            return UNKNOWN_LICENSE, ""

    def revision(self, model_id: str) -> str:
        """Changes whenever the installed files do: config and tokenizer contents, weight file sizes."""
        h = hashlib.sha256()
        for folder in (self.hf_dir(model_id), self.ct2_dir(model_id), self.path(model_id) / "gguf"):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix in (".json", ".model", ".spm") and path.stat().st_size < 50_000_000:
                    h.update(path.name.encode() + path.read_bytes())
                elif path.is_file():
                    h.update(f"{path.name}:{path.stat().st_size}".encode())
        return h.hexdigest()[:16]

    def installed(self) -> list[InstalledModel]:
        if not self.root.is_dir():
            return []
        out = []
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and not entry.name.startswith("."):
                model_id = entry.name.replace("--", "/")
                out.append(InstalledModel(model_id, entry, self.has_hf(model_id), self.has_ct2(model_id),
                                          self.has_gguf(model_id), self.license(model_id)))
        return out

    # -- building ----------------------------------------------------------------------------------
    def _staging(self) -> Path:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=".partial-", dir=self.root))
        except OSError as exc:
            raise ModelInvalid(f"The models folder {self.root} cannot be written ({exc.strerror or 'file error'}); "
                               "check its permissions or set models_dir.") from None

    def _commit(self, staging: Path, model_id: str) -> Path:
        """Swap the complete new model in; the old one is removed only once the new one is in its place."""
        final = self.path(model_id)
        aside = None
        if final.exists():
            aside = self.root / f".old-{final.name}-{uuid.uuid4().hex[:8]}"
            os.replace(final, aside)
        try:
            os.replace(staging, final)
        except OSError:
            if aside is not None:
                os.replace(aside, final)
            raise
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        return final

    def _recover(self, model_id: str) -> None:
        """Undo a swap that a crash cut short (old model aside, new one not in): put the old one back."""
        final = self.path(model_id)
        for aside in sorted(self.root.glob(f".old-{final.name}-*")) if self.root.is_dir() else []:
            if final.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(aside, final)

    def _install_failed(self, model_id: str, exc: OSError) -> ModelInvalid:
        log.warning("installing %s failed: %s", model_id, exc)
        return ModelInvalid(f"{model_id} could not be written to {self.root} ({exc.strerror or 'file error'}); "
                            "check the free space and permissions of the models folder, then try again; any "
                            "model installed before is unchanged.")

    def pull(self, model_id: str, convert: bool = True, revision: str | None = None) -> Path:
        """Download ``model_id`` from the Hugging Face hub, convert it, and install it."""
        from huggingface_hub import snapshot_download

        if convert:
            require_converter()  # before a download that could not be used
        self._recover(model_id)
        staging = self._staging()
        try:
            try:
                snapshot_download(repo_id=model_id, revision=revision, local_dir=str(staging / "hf"),
                                  allow_patterns=HF_PATTERNS)
            except Exception as exc:  # network, auth, offline mode, missing repo: all one message
                log.info("download of %s failed: %r", model_id, exc)
                offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")
                why = ("downloads are turned off here (HF_HUB_OFFLINE is set)" if offline
                       else "the hub cannot be reached, or has no such model")
                raise ModelDownloadFailed(
                    f"Could not download {model_id} from the Hugging Face hub: {why}; copy the model folder "
                    f"here and run `python -m service models add PATH --name {model_id}`.", model=model_id,
                ) from None
            self._finish(staging, model_id, convert)
            return self._commit(staging, model_id)
        except OSError as exc:
            raise self._install_failed(model_id, exc) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def add(self, source: Path, model_id: str, convert: bool = True) -> Path:
        """Install a local Hugging Face model folder, or a GGUF file (the offline route) under ``model_id``."""
        source = Path(source)
        if source.is_file() and source.suffix == ".gguf":
            return self._add_gguf(source, model_id)
        if not (source / "config.json").is_file():
            raise InvalidInput(f"{source} is neither a Hugging Face model folder (it has no config.json) "
                               "nor a .gguf file.")
        if convert:
            require_converter()
        self._recover(model_id)
        staging = self._staging()
        try:
            try:
                shutil.copytree(source, staging / "hf")
            except (OSError, shutil.Error) as exc:
                log.warning("copying %s failed: %s", source, exc)
                raise InvalidInput(f"{source} could not be copied (a file in it is unreadable, or the models "
                                   "folder is full); nothing was installed.") from None
            self._finish(staging, model_id, convert)
            return self._commit(staging, model_id)
        except OSError as exc:
            raise self._install_failed(model_id, exc) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _add_gguf(self, source: Path, model_id: str) -> Path:
        self._recover(model_id)
        staging = self._staging()
        try:
            (staging / "gguf").mkdir()
            shutil.copyfile(source, staging / "gguf" / source.name)
            self._record(staging, model_id, gguf_license(staging / "gguf" / source.name), "GGUF general.license")
            return self._commit(staging, model_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @staticmethod
    def _record(staging: Path, model_id: str, license_id: str, where: str) -> None:
        info = {"id": model_id, "license": license_id, "license_from": where}
        (staging / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def _finish(self, staging: Path, model_id: str, convert: bool) -> None:
        hf = staging / "hf"
        self._record(staging, model_id, card_license(hf), "README.md metadata")
        for leftover in (hf / ".cache",):
            shutil.rmtree(leftover, ignore_errors=True)
        if not any((hf / name).exists() for name in TOKENIZER_FILES):
            raise ModelInvalid(f"{model_id} has no tokenizer files ({', '.join(TOKENIZER_FILES)}).")
        if convert:
            convert_to_ctranslate2(hf, staging / "ctranslate2")


def require_converter() -> None:
    """Conversion loads the weights with transformers + torch; torch is the optional extra ``full``."""
    if importlib.util.find_spec("torch") is None:
        raise ConfigError("Converting a model to CTranslate2 needs torch, which this installation leaves out "
                          "(the runtime image): convert with the full image or `pip install 'asean-mt[full]'`, "
                          "then copy the model's folder into the models directory.")


def convert_to_ctranslate2(hf_dir: Path, out_dir: Path, quantization: str = "int8") -> None:
    require_converter()
    from ctranslate2.converters import TransformersConverter

    log.info("converting %s to CTranslate2 (%s)", hf_dir, quantization)
    try:
        TransformersConverter(str(hf_dir)).convert(str(out_dir), quantization=quantization, force=True)
    except Exception as exc:  # the converter raises ValueError, KeyError, NotImplementedError...
        log.warning("converting %s to CTranslate2 failed: %r", hf_dir, exc)
        raise ModelInvalid(f"The model in {hf_dir} could not be converted to CTranslate2 (its architecture may not "
                           "be supported; the log has the details); install it with --no-convert to run it on "
                           "transformers.") from None
