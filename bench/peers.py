"""This service against LibreTranslate, side by side on one machine, on the same weights and the same API.

LibreTranslate (pinned: ``LT_VERSION``) is installed into its own environment under ``bench/.cache/`` (pip, from
the package registry, once). Its Argos package is built from this project's bench model (the random-weight
opus-mt-id-en-shape model: the same CTranslate2 model and SentencePiece file this service loads), with a stand-in
MiniSBD sentence splitter (``bench/minisbd_standin.py``: MiniSBD's exact ONNX interface, a rule inside),
built with ``onnx`` in a third environment (``onnx`` needs numpy 2, LibreTranslate pins numpy<2). Everything runs
offline: the package index LibreTranslate reads at start-up is a local ``file://`` index, MiniSBD finds its models
in its cache, and ``ORT_DISABLE_TELEMETRY=1`` keeps onnxruntime from looking up its telemetry host.

Both servers run on loopback; both LibreTranslate-compatible ``POST /translate`` endpoints get the same
single-sentence requests (distinct TICO-19 sentences: no request repeats another of its section) at concurrency 1,
8 and 32, with equal decoding settings: beam 4, length penalty 0.2 (LibreTranslate's), the same maximum output
length. Two lengths:

- ``256``: CTranslate2's default ``max_decoding_length``, what LibreTranslate uses; random weights never emit the
  end token, so every sentence is decoded to 256 tokens (this service at ``max_output_ratio=0``,
  ``max_output_extra=256``);
- ``2x+10``: both sides bounded at 2 x source + 10 tokens, about a real model's output (this service's default;
  LibreTranslate through a bench-only ``sitecustomize.py`` in its own environment that passes the same
  ``max_decoding_length`` to CTranslate2).

LibreTranslate runs twice: at its defaults (``ARGOS_INTER_THREADS=1``, ``ARGOS_INTRA_THREADS=0``: one translator
using every core) and at its best thread setting found in issue 18 (one translator per core, one thread each).
This service runs at its defaults (a translator replica per core, micro-batching on), with the translation memory
and the default glossary off, so that every request reaches the engine and does the same work.

Each cell is a fixed amount of work: every client sends ``rounds`` requests one after another (all clients start
together), the servers alternated cell by cell; requests/s is requests / the time until the last answer. Peak RSS
is the largest resident memory of the server's processes, sampled every 0.5 s. Figures are from one run on a
shared machine: compare within a cell.

    python bench/peers.py [--quick] [--output bench/results/peers.md]
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from common import CACHE, OPUS, REPO, TICO, ensure_model, machine_header, write_catalog

from service.config import available_cores
from tests.model_factory import OPUS_MT_ID_EN

log = logging.getLogger("peers")

LT_VERSION = "1.9.6"
ONNX_VERSION = "1.23.2"
PEERS = CACHE / "peers"
LT_ENV = CACHE / "libretranslate-venv"
ONNX_ENV = CACHE / "onnx-venv"
BEAM = 4
LENGTH_PENALTY = 0.2  # LibreTranslate's (argostranslate.translate passes it to translate_batch)

#: sitecustomize.py for LibreTranslate's environment: bounds CTranslate2's output as this service does
#: (ratio x the longest input of the batch, end token counted, + extra) when ASEAN_MT_BENCH_MAX_OUTPUT is set.
SITECUSTOMIZE = '''"""bench/peers.py (asean-mt): bound LibreTranslate's output length like the service it is
compared with."""
import os

_bound = os.environ.get("ASEAN_MT_BENCH_MAX_OUTPUT")
if _bound:
    import ctranslate2

    _ratio, _extra = (float(x) for x in _bound.split(","))

    class _BoundedTranslator(ctranslate2.Translator):
        def translate_batch(self, source, *args, **kwargs):
            longest = max((len(s) for s in source), default=0) + 1  # + the end token, as the service counts
            kwargs.setdefault("max_decoding_length", int(_ratio * longest + _extra))
            return super().translate_batch(source, *args, **kwargs)

    ctranslate2.Translator = _BoundedTranslator
'''


def run(cmd: list[str], **kwargs) -> None:
    log.info("$ %s", " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)


def make_env(path: Path, requirement: str, marker: str) -> Path:
    """A virtual environment with ``requirement`` (once); returns its python."""
    python = path / "bin" / "python"
    if not (path / marker).exists():
        base = getattr(sys, "_base_executable", sys.executable)
        run([base, "-m", "venv", "--clear", str(path)])
        run([str(python), "-m", "pip", "install", "-q", requirement])
        (path / marker).write_text(requirement + "\n", encoding="utf-8")
    return python


def install_libretranslate() -> Path:
    python = make_env(LT_ENV, f"libretranslate=={LT_VERSION}", f".installed-{LT_VERSION}")
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return LT_ENV / "bin" / "libretranslate"


def build_splitters(out: Path) -> dict[str, Path]:
    python = make_env(ONNX_ENV, f"onnx=={ONNX_VERSION}", f".installed-{ONNX_VERSION}")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for lang in ("id", "en"):
        files[lang] = out / f"{lang}.onnx"
        if not files[lang].exists():
            run([str(python), str(REPO / "bench" / "minisbd_standin.py"), lang, str(files[lang])])
    return files


def build_argos_package(models_dir: Path, splitters: dict[str, Path]) -> tuple[Path, Path]:
    """The bench model as an installed Argos package, and a local package index listing it.
    Returns (packages dir, index dir)."""
    model = models_dir / OPUS.replace("/", "--")
    hf, ct2 = model / "hf", model / "ctranslate2"
    if (hf / "source.spm").read_bytes() != (hf / "target.spm").read_bytes():
        raise SystemExit("the bench model's source and target SentencePiece models differ; Argos needs one")
    packages, index_dir = PEERS / "packages", PEERS / "index"
    package = packages / "translate-id_en-bench"
    metadata = {"package_version": "1.0", "argos_version": "1.0", "from_code": "id", "from_name": "Indonesian",
                "to_code": "en", "to_name": "English", "type": "translate", "name": "asean-mt bench (random)",
                "links": [(index_dir / "translate-id_en-bench.argosmodel").as_uri()]}
    if package.exists():
        shutil.rmtree(package)
    (package / "minisbd").mkdir(parents=True)
    shutil.copytree(ct2, package / "model")
    shutil.copy(hf / "source.spm", package / "sentencepiece.model")
    shutil.copy(splitters["id"], package / "minisbd" / "id.onnx")
    (package / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    index_dir.mkdir(parents=True, exist_ok=True)
    (index_dir / "index.json").write_text(json.dumps([metadata], indent=2), encoding="utf-8")
    cache = PEERS / "xdg-data" / "argos-translate" / "minisbd"  # where MiniSBD looks before downloading
    cache.mkdir(parents=True, exist_ok=True)
    for lang, path in splitters.items():
        shutil.copy(path, cache / f"{lang}.onnx")
    return packages, index_dir


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    cmd: list[str]
    env: dict[str, str]
    ready_path: str
    proc: subprocess.Popen | None = None
    log_file: Path | None = None

    def start(self) -> None:
        self.log_file = PEERS / f"{self.name.replace(' ', '_')}.log"
        with open(self.log_file, "w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=PEERS, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"{self.name} stopped at start-up; see {self.log_file}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"{self.name} did not become ready; see {self.log_file}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        except ProcessLookupError:
            pass

    def rss_mib(self) -> float:
        """Resident memory of the server's processes (its session), MiB."""
        if self.proc is None:
            return 0.0
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) != self.proc.pid:  # session id
                    continue
                for line in (stat.parent / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return total / 1024


def service_server(models_dir: Path, catalog: Path, bound: tuple[float, int]) -> Server:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(models_dir),
           "ASEAN_MT_CATALOG_PATH": str(catalog), "ASEAN_MT_MEMORY": "off", "ASEAN_MT_DEFAULT_GLOSSARIES": "",
           "ASEAN_MT_SERVER_THREADS": "64", "ASEAN_MT_PRELOAD": "id-en", "ASEAN_MT_BEAM_SIZE": str(BEAM),
           "ASEAN_MT_LENGTH_PENALTY": str(LENGTH_PENALTY), "ASEAN_MT_MAX_OUTPUT_RATIO": str(bound[0]),
           "ASEAN_MT_MAX_OUTPUT_EXTRA": str(bound[1]), "ASEAN_MT_EMBEDDED_WORKER": "0",
           "ASEAN_MT_DATA_DIR": str(PEERS / "service-data"), "ASEAN_MT_SECRET_KEY": "bench",
           "ASEAN_MT_LOG_LEVEL": "warning", "PYTHONPATH": str(REPO)}
    return Server("asean-mt", port, [sys.executable, "-m", "service", "serve", "--port", str(port)], env, "/readyz")


def lt_server(name: str, binary: Path, packages: Path, index: Path, threads: tuple[int, int],
              bound: tuple[float, int] | None) -> Server:
    port = free_port()
    home = PEERS / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_DATA_HOME": str(PEERS / "xdg-data"), "XDG_CONFIG_HOME": str(PEERS / "xdg-config"),
           "XDG_CACHE_HOME": str(PEERS / "xdg-cache"), "ARGOS_PACKAGES_DIR": str(packages),
           "ARGOS_PACKAGE_INDEX": index.as_uri() + "/", "ORT_DISABLE_TELEMETRY": "1",
           "ARGOS_INTER_THREADS": str(threads[0]), "ARGOS_INTRA_THREADS": str(threads[1]), "PYTHONNOUSERSITE": "1"}
    if bound is not None:
        env["ASEAN_MT_BENCH_MAX_OUTPUT"] = f"{bound[0]:g},{bound[1]}"
    cmd = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--load-only", "id,en", "--disable-web-ui",
           "--disable-files-translation"]
    return Server(name, port, cmd, env, "/languages")


def bench_sentences(models_dir: Path, n: int = 65) -> list[str]:
    """Distinct one-sentence TICO-19 lines of 20 to 40 tokens (both splitters keep each whole)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(models_dir / OPUS.replace("/", "--") / "hf" / "source.spm"))
    lines = (TICO / "tico19-test.ind").read_text(encoding="utf-8").splitlines()
    chosen = [s for s in dict.fromkeys(lines) if s.endswith(".") and not any(m in s[:-1] for m in ".!?")
              and 20 <= len(sp.encode(s)) <= 40]
    return chosen[:n]


@dataclass
class Cell:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    output_tokens: int = 0
    errors: int = 0
    rss_mib: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def drive(server: Server, sentences: list[str], concurrency: int, rounds: int, count_tokens, offset: int = 0
          ) -> Cell:
    """``concurrency`` clients, each sending ``rounds`` requests one after another on its own connection; request
    k of the cell gets sentence ``offset + k`` (so that no request repeats the one before it: Argos keeps the
    last text's translation)."""
    cell = Cell()
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)
    peak = [server.rss_mib()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            peak[0] = max(peak[0], server.rss_mib())

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1800)
        barrier.wait()
        for j in range(rounds):
            text = sentences[(offset + j * concurrency + i) % len(sentences)]
            body = json.dumps({"q": text, "source": "id", "target": "en", "format": "text"})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/translate", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                ok = response.status == 200
            except OSError:
                ok, data = False, b""
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1800)
            elapsed = time.perf_counter() - t0
            with lock:
                if ok:
                    cell.requests += 1
                    cell.latencies.append(elapsed)
                    cell.output_tokens += count_tokens(json.loads(data)["translatedText"])
                else:
                    cell.errors += 1
        conn.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    cell.seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    cell.rss_mib = max(peak[0], server.rss_mib())
    return cell


def warm(server: Server, sentence: str) -> None:
    body = json.dumps({"q": sentence, "source": "id", "target": "en"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/translate", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=1800) as r:
        json.loads(r.read())


def section(label: str, servers: list[Server], sentences: list[str], plan: dict[int, int], count_tokens
            ) -> dict[tuple[str, int], Cell]:
    """Every server through every cell; the last sentence warms the servers up and is not sent again."""
    results: dict[tuple[str, int], Cell] = {}
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
            warm(s, sentences[-1])  # loads LibreTranslate's model (lazily, on the first request)
        offset = 0
        for n, (concurrency, rounds) in enumerate(plan.items()):
            order = servers if n % 2 == 0 else servers[::-1]  # alternate who goes first
            for s in order:
                log.info("%s: %s at concurrency %d (%d requests)", label, s.name, concurrency, concurrency * rounds)
                cell = results[(s.name, concurrency)] = drive(s, sentences[:-1], concurrency, rounds, count_tokens,
                                                              offset)
                log.info("  %.3f requests/s, p50 %.1f s, p99 %.1f s, %d errors", cell.rps, cell.pct(0.5),
                         cell.pct(0.99), cell.errors)
            offset += concurrency * rounds
    finally:
        for s in servers:
            s.stop()
    return results


def table(label: str, names: list[str], plan: dict[int, int], results: dict[tuple[str, int], Cell]) -> list[str]:
    lines = [f"### Output bound: {label}", "",
             "| concurrency | server | requests | seconds | requests/s | output tokens/s | p50 | p99 | peak RSS "
             "| errors |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for c in plan:
        for name in names:
            r = results[(name, c)]
            lines.append(f"| {c} | {name} | {r.requests} | {r.seconds:.1f} | {r.rps:.3f} | "
                         f"{r.output_tokens / r.seconds:.1f} | {r.pct(0.5):.1f} s | {r.pct(0.99):.1f} s | "
                         f"{r.rss_mib:.0f} MiB | {r.errors} |")
    return lines


def verdicts(label: str, plan: dict[int, int], results: dict[tuple[str, int], Cell], best: str, default: str | None,
             goals: dict[int, float]) -> list[str]:
    """Concurrency 1 is judged against LibreTranslate at its defaults (what it runs), more against its best."""
    lines = []
    for c in plan:
        ours = results[("asean-mt", c)]
        against = default if c == 1 and default is not None else best
        peer = results[(against, c)]
        ratio = ours.rps / peer.rps if peer.rps else float("inf")
        goal = goals.get(c)
        p99 = ours.pct(0.99) < peer.pct(0.99)
        other = best if against == default else default
        vs_other = ""
        if other is not None and results[(other, c)].rps:
            vs_other = f"; {ours.rps / results[(other, c)].rps:.2f}x {other}"
        need = ""
        if goal is not None:
            met = ratio >= goal and (c == 1 or p99)
            need = f" (goal: at least {goal:g}x{', lower p99' if c > 1 else ''}: **{'met' if met else 'missed'}**)"
        lines.append(f"- {label}, concurrency {c}: **{ratio:.2f}x** the requests/s of {against}, p99 "
                     f"{ours.pct(0.99):.1f} s vs {peer.pct(0.99):.1f} s{vs_other}{need}")
    return lines


def ceiling(models_dir: Path, sentences: list[str], bounds: dict[str, tuple[float, int]]) -> list[str]:
    """What this service can add on the same cores, raw CTranslate2 without any server: per core, a batch of
    4 or 16 sentences (what the replicas run under load) against a batch of 1 (what LibreTranslate runs); for a
    lone request, two threads on one sentence against one (the only way one sentence could use a second core).
    Alternated twice, the best of the two. With every core busy on both sides, the batch gain bounds the
    requests/s ratio under load, and the thread gain the ratio at concurrency 1."""
    import ctranslate2
    import sentencepiece as spm

    model = models_dir / OPUS.replace("/", "--")
    sp = spm.SentencePieceProcessor(model_file=str(model / "hf" / "source.spm"))
    tokens = [[*sp.encode(s, out_type=str), "</s>"] for s in sentences[:16]]
    translators = {threads: ctranslate2.Translator(str(model / "ctranslate2"), intra_threads=threads,
                                                   inter_threads=1) for threads in (1, 2)}
    runs = [(1, 1), (1, 2), (4, 1), (16, 1)]  # (batch, threads)
    lines = ["## What the same cores can give (raw CTranslate2, no server)", "",
             "| output bound | batch | threads | sentences/s | gain over batch 1, one thread |",
             "| --- | --- | --- | --- | --- |"]
    for label, (ratio, extra) in bounds.items():
        rate: dict[tuple[int, int], float] = {}
        for _ in range(2):
            for size, threads in runs:
                batches = [tokens[:size]] if size > 1 else [[t] for t in tokens[:2]]
                t0 = time.perf_counter()
                for batch in batches:
                    bound = int(ratio * max(len(t) for t in batch) + extra) if ratio else extra
                    translators[threads].translate_batch(batch, beam_size=BEAM, length_penalty=LENGTH_PENALTY,
                                                         max_decoding_length=bound)
                done = sum(len(b) for b in batches)
                rate[(size, threads)] = max(rate.get((size, threads), 0.0), done / (time.perf_counter() - t0))
        for (size, threads), value in rate.items():
            lines.append(f"| {label} | {size} | {threads} | {value:.3f} | {value / rate[(1, 1)]:.2f}x |")
    del translators
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="concurrency 1 and 8, fewer requests (a few minutes)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "peers.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    PEERS.mkdir(parents=True, exist_ok=True)
    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({"id-en": OPUS})
    binary = install_libretranslate()
    packages, index = build_argos_package(models_dir, build_splitters(PEERS / "minisbd"))
    sentences = bench_sentences(models_dir)
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(models_dir / OPUS.replace("/", "--") / "hf" / "target.spm"))

    def count_tokens(text: str) -> int:
        return len(sp.encode(text))

    cores = available_cores()
    best_threads = (cores, 1)  # issue 18: one translator per core, one thread each, was its best
    best, default = f"LibreTranslate inter={best_threads[0]} intra=1", "LibreTranslate defaults"
    # requests per client; the 256-token cells take ~4x longer, so they get fewer rounds
    plans = {"256": {1: 2, 8: 1}, "2x": {1: 2, 8: 1}} if args.quick else {"256": {1: 3, 8: 2, 32: 1},
                                                                          "2x": {1: 6, 8: 2, 32: 2}}
    bounds = {"256 tokens (LibreTranslate's default)": ((0.0, 256), None),
              "2 x source + 10 tokens": ((2.0, 10), (2.0, 10))}
    goals = {"256 tokens (LibreTranslate's default)": {1: 1.2, 8: 1.5, 32: 1.5},
             "2 x source + 10 tokens": {8: 2.0, 32: 2.0}}
    report: list[str] = []
    summary: list[str] = []
    started = time.perf_counter()
    engine = ceiling(models_dir, sentences, {label: ours for label, (ours, _) in bounds.items()})
    for label, (ours_bound, lt_bound) in bounds.items():
        plan = plans["256" if label.startswith("256") else "2x"]
        servers = [service_server(models_dir, catalog, ours_bound),
                   lt_server(best, binary, packages, index, best_threads, lt_bound),
                   lt_server(default, binary, packages, index, (1, 0), lt_bound)]
        results = section(label, servers, sentences, plan, count_tokens)
        names = [s.name for s in servers]
        report += [*table(label, names, plan, results), ""]
        summary += verdicts(label, plan, results, best, default, goals[label])
    minutes = (time.perf_counter() - started) / 60
    rounds = "; ".join(f"{key}: " + ", ".join(f"concurrency {c}: {c * r} requests" for c, r in plan.items())
                       for key, plan in plans.items())
    lines = ["# This service vs LibreTranslate: same weights, same API, same machine", "",
             machine_header(["ctranslate2", "gunicorn", "flask"]).rstrip(),
             f"- LibreTranslate {LT_VERSION} (its own environment in bench/.cache), offline: local file:// package "
             "index, an Argos package built from the bench model (the same CTranslate2 model and SentencePiece "
             "file), a stand-in MiniSBD splitter (bench/minisbd_standin.py; same ONNX interface, a rule "
             "inside), ORT_DISABLE_TELEMETRY=1; 4 waitress threads (its default)",
             "- this service: `python -m service serve` (1 gunicorn worker, defaults: inter_threads = cores, "
             "intra_threads = 1, micro-batching on), translation memory and default glossary off",
             f"- equal decoding settings: beam {BEAM}, length penalty {LENGTH_PENALTY}, the same output bound (below)",
             "- model: opus-mt-id-en-shape with random weights (bench/common.py), CTranslate2 int8; random output, "
             "so only the speed means anything",
             f"- load: distinct single-sentence TICO-19 requests ({len(sentences) - 1} sentences of 20-40 tokens, "
             "none repeated within a section) to `POST /translate` (JSON), "
             f"a fixed amount of work per cell ({rounds}); all clients start together; requests/s = requests / "
             "time to the last answer; servers alternated cell by cell; peak RSS of each server's processes",
             "- the 2 x source + 10 bound reaches LibreTranslate through a bench-only `sitecustomize.py` in its "
             "environment that passes the same `max_decoding_length` to CTranslate2 (end token counted as this "
             "service counts it)",
             f"- figures are from one run on a 2-core machine shared with other work ({minutes:.0f} minutes): "
             "compare within a cell, as ratios",
             f"- command: `python bench/peers.py{' --quick' if args.quick else ''}`", "",
             "## Summary", "", *summary, "", "## Measurements", "", *report, *engine]
    text = "\n".join(lines).rstrip() + "\n"
    args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
