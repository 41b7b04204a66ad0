"""What every benchmark writes beside its numbers: the machine, the versions, the settings."""

from __future__ import annotations

import platform
import statistics
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from service.config import available_cores


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_header(packages: list[str]) -> str:
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in packages)
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return (f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
            f"- machine: {cpu_model()}, {available_cores()} cores available{mem}, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}\n"
            f"- versions: {versions}\n")


def median(values: list[float]) -> float:
    return statistics.median(values)


# -- shared set-up: random-weight models at real shapes, installed like real ones --------------------------
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
CACHE = REPO / "bench" / ".cache"
#: the shared data folder beside the checkout (or beside the folder of git worktrees)
SHARED = next((p for p in (REPO.parent / "shared", REPO.parent.parent / "shared") if p.is_dir()),
              REPO.parent / "shared")
TICO = SHARED / "eval" / "tico19"
OPUS = "bench/opus-mt-id-en-shape"
NLLB = "bench/nllb-600m-shape"


def ensure_model(model_id: str, shape) -> Path:
    """Build (once) a random Marian model of ``shape`` and install it in the bench models folder."""
    from service.model_store import ModelStore
    from tests.model_factory import build_marian

    store = ModelStore(CACHE / "models")
    CACHE.mkdir(parents=True, exist_ok=True)
    if not store.has_ct2(model_id):
        # SentencePiece trained on real Indonesian and English (TICO-19 + the seed article), 8,000 pieces:
        # sentences get realistic token counts (~1.5 per word); the vocabulary is then padded to the real size.
        eval_dir = TICO
        corpus = [*(eval_dir / "tico19-test.ind").read_text(encoding="utf-8").splitlines(),
                  *(eval_dir / "tico19-test.eng").read_text(encoding="utf-8").splitlines(),
                  *seed_sentences(22)]
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            store.add(build_marian(Path(tmp) / "m", shape, corpus=corpus), model_id)
    return store.root


def write_catalog(pairs: dict[str, str]) -> Path:
    """A catalog routing "src-tgt" -> model id (CTranslate2 first, transformers second)."""
    lines = []
    for model in sorted(set(pairs.values())):
        # the bench models have the shapes of OPUS-MT models, and their licence (random weights, nothing else)
        lines += [f'[models."{model}"]', 'family = "marian"', 'license = "cc-by-4.0"',
                  "pairs = [" + ", ".join(f'"{p}"' for p, m in pairs.items() if m == model) + "]", ""]
    lines.append("[routes]")
    for pair, model in pairs.items():
        lines.append(f'"{pair}" = ["ctranslate2:{model}", "transformers:{model}"]')
    path = CACHE / "catalog.toml"
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def seed_sentences(n: int) -> list[str]:
    from service.text.segment import Segmenter

    seed = (REPO / "examples" / "ascn-shepherd-2025.id.txt").read_text(encoding="utf-8")
    pieces = [s.strip() for line in seed.splitlines() if line.strip() for s in Segmenter().split(line, "id")]
    out: list[str] = []
    while len(out) < n:
        out.extend(pieces)
    return out[:n]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matrix product on the cores this process may use (torch, its own threads)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def marian_flops(shape, src_tokens: int) -> tuple[float, float]:
    """(FLOPs per source token in the encoder, FLOPs per output token in the decoder), multiply-add = 2."""
    d, f, layers = shape.d_model, shape.ffn, shape.layers
    vocab = shape.marian_vocab or shape.vocab_size
    encoder = 2 * layers * (4 * d * d + 2 * d * f)
    decoder = 2 * layers * (8 * d * d + 2 * d * f + 2 * src_tokens * d) + 2 * d * vocab
    return encoder, decoder
