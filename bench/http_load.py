"""HTTP throughput with and without cross-request micro-batching.

Two servers (`python -m service serve`, one gunicorn worker with 64 threads, the opus-mt-id-en-shape model on
CTranslate2, greedy, translation memory off so that every request reaches the engine) differ only in
``micro_batch_wait_ms`` (``--wait-ms``, default 20, vs 0). wrk sends single-sentence requests, each sentence
distinct (TICO-19 sentences of 25-35 tokens, numbered), at concurrency 1, 8 and 32, on loopback, bounded in
time; the two servers are alternated at every step of every round (only one is under load at a time: after
each run, the requests still in flight are waited for before the next run starts). Random weights never emit
the end token, so the output bound is set to input + 4 tokens (``max_output_ratio=1``), about a real model's
length.
Reports requests/s and p50/p99 latency (medians over rounds).

    apt-get install wrk
    python bench/http_load.py [--rounds 2] [--duration 12]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import CACHE, OPUS, REPO, TICO, ensure_model, machine_header, median, write_catalog

from tests.model_factory import OPUS_MT_ID_EN

LUA = r"""
counter = 0
sentences = {%s}
request = function()
  counter = counter + 1
  local s = sentences[(counter %% #sentences) + 1]
  local body = '{"text": "' .. s .. ' (' .. counter .. ')", "source": "id", "targets": ["en"]}'
  return wrk.format("POST", "/v1/translate", {["Content-Type"] = "application/json"}, body)
end
"""


def bench_sentences(models_dir: Path, low: int = 25, high: int = 35, n: int = 200) -> list[str]:
    """Distinct TICO-19 sentences whose length under the bench model's tokenizer is in [low, high]."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(models_dir / OPUS.replace("/", "--") / "hf"))
    lines = (TICO / "tico19-test.ind").read_text(encoding="utf-8").splitlines()
    chosen = [s for s in dict.fromkeys(lines) if low <= len(tok(s)["input_ids"]) <= high]
    return [s.replace("\\", " ").replace('"', "'") for s in chosen[:n]]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, wait_ms: float, models_dir: Path, catalog: Path, data: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASEAN_MT_MODELS_DIR": str(models_dir),
           "ASEAN_MT_CATALOG_PATH": str(catalog), "ASEAN_MT_MICRO_BATCH_WAIT_MS": str(wait_ms),
           "ASEAN_MT_MEMORY": "off", "ASEAN_MT_SERVER_THREADS": "64", "ASEAN_MT_PRELOAD": "id-en",
           "ASEAN_MT_BEAM_SIZE": "1", "ASEAN_MT_MAX_OUTPUT_RATIO": "1", "ASEAN_MT_MAX_OUTPUT_EXTRA": "4",
           "ASEAN_MT_EMBEDDED_WORKER": "0", "ASEAN_MT_DATA_DIR": str(data), "ASEAN_MT_SECRET_KEY": "bench",
           "ASEAN_MT_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    raise SystemExit("server did not become ready")


def seconds(text: str) -> float:
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)
    return value * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def drain(port: int) -> None:
    """Wait until the requests still in flight when wrk stopped are done (one more request queues behind
    them), so that they do not eat into the next run's CPU, whichever server it targets."""
    body = json.dumps({"text": "Selesai.", "source": "id", "targets": ["en"]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/translate", data=body,
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=300).read()
    time.sleep(1)


def wrk(port: int, concurrency: int, duration: int, script: Path) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{duration}s",
                          "--timeout", "60s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = seconds(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = seconds(re.search(r"\s99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    drain(port)
    return {"rps": rps, "p50": p50, "p99": p99, "errors": float(errors.group(1)) if errors else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=12)
    parser.add_argument("--wait-ms", type=float, default=20.0, help="micro_batch_wait_ms of the 'on' server")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "http-cpu.md")
    args = parser.parse_args()
    models_dir = ensure_model(OPUS, OPUS_MT_ID_EN)
    catalog = write_catalog({"id-en": OPUS})
    sentences = bench_sentences(models_dir)
    script = CACHE / "requests.lua"
    script.write_text(LUA % ", ".join(f'"{s}"' for s in sentences), encoding="utf-8")
    data = Path(tempfile.mkdtemp(dir=CACHE))
    ports = {"off": free_port(), "on": free_port()}
    servers = {mode: start(port, args.wait_ms if mode == "on" else 0.0, models_dir, catalog, data)
               for mode, port in ports.items()}
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for mode in ports:  # warm-up
            wrk(ports[mode], 2, 3, script)
        for _ in range(args.rounds):
            for c in (1, 8, 32):
                for mode in ("off", "on"):
                    results.setdefault((mode, c), []).append(wrk(ports[mode], c, args.duration, script))
    finally:
        for proc in servers.values():
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()

    def med(mode: str, c: int, key: str) -> float:
        return median([r[key] for r in results[(mode, c)]])

    lines = ["# HTTP throughput: micro-batching on vs off", "",
             machine_header(["ctranslate2", "gunicorn", "flask"]).rstrip(),
             "- server: `python -m service serve`, 1 gunicorn worker (gthread, 64 threads), opus-mt-id-en-shape "
             "random model on CTranslate2 int8, greedy, translation memory off, default glossary on",
             "- load: wrk on loopback, single-sentence POST /v1/translate, every sentence distinct (TICO-19, "
             f"25-35 tokens); {args.duration} s per run, {args.rounds} rounds, on/off alternated at every step; "
             "medians",
             "- random weights never emit the end token: the output bound is input + 4 tokens "
             "(`max_output_ratio=1`, `max_output_extra=4`), about what a real model writes, so each request does a "
             "fixed, realistic amount of decoding",
             f"- micro_batch_wait_ms: {args.wait_ms:g} (on) vs 0 (off)",
             f"- command: `python bench/http_load.py --rounds {args.rounds} --duration {args.duration} "
             f"--wait-ms {args.wait_ms:g}`", "",
             "| concurrency | batching | requests/s | p50 latency | p99 latency | errors |",
             "| --- | --- | --- | --- | --- | --- |"]
    for c in (1, 8, 32):
        for mode in ("off", "on"):
            lines.append(f"| {c} | {mode} | {med(mode, c, 'rps'):.2f} | {1000 * med(mode, c, 'p50'):.0f} ms | "
                         f"{1000 * med(mode, c, 'p99'):.0f} ms | {med(mode, c, 'errors'):.0f} |")
    speedup = med("on", 32, "rps") / med("off", 32, "rps")
    p50_cost = med("on", 1, "p50") / med("off", 1, "p50") - 1
    lines += ["", f"- concurrency 32: batching on serves **{speedup:.1f}x** the requests/s of batching off "
                  "(target: at least 4x)",
              f"- concurrency 1: p50 latency with batching on is **{100 * p50_cost:+.1f}%** against off "
              "(target: no more than 10% worse)", ""]
    report = "\n".join(lines)
    args.output.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
