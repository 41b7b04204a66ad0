"""End-to-end checks of the built images (run by ``scripts/image.sh test``; standard library only).

1. Both images: the service's user is not root, ``asean-mt`` is on PATH, the code is read-only, /models and
   /data are the only writable folders (besides /tmp), the HEALTHCHECK survived the build; torch only in full.
2. The full image converts: a tiny random-weight Marian model (tests/model_factory.py) is installed with
   ``asean-mt models add ... --name Helsinki-NLP/opus-mt-id-en`` into a models volume.
3. The runtime image (no torch) serves that volume: /healthz, /readyz, id->ms by Apertium (a real
   translation), id->en by CTranslate2 (random weights: structure only, never shown as a translation), a
   summary, a small batch job through the embedded worker, its own HEALTHCHECK; SIGTERM with a request in
   flight: the request is answered and the container exits 0 by itself; after a restart the job is still there.

Each check prints one line; with --report the figures and checks are also written as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "examples" / "ascn-shepherd-2025.id.txt").read_text(encoding="utf-8")
READY_TIMEOUT_S = 600  # two shared cores: loading the engines can take minutes when the machine is busy
TINY_MODEL = "Helsinki-NLP/opus-mt-id-en"  # the catalog's id->en model; here a tiny random-weight stand-in


@dataclass
class Report:
    engine: str
    image: str
    built: dict[str, tuple[int, int]]
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, ok, detail))
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def markdown(self) -> str:
        version = subprocess.run([self.engine, "--version"], capture_output=True, text=True).stdout.strip()
        lines = [
            "# Container images: build and end-to-end check",
            "",
            f"Command: `bash scripts/image.sh test` ({time.strftime('%Y-%m-%d')}, {version}, "
            f"{os.cpu_count()} cores, {platform.machine()}).",
            "",
            "| image | build time | size |",
            "| --- | --- | --- |",
        ]
        for target, (seconds, size) in self.built.items():
            lines.append(f"| `{self.image}:{target}` | {seconds} s | {size / 1e6:.0f} MB |")
        lines += ["", "| figure | value |", "| --- | --- |"]
        lines += [f"| {k} | {v} |" for k, v in self.figures.items()]
        lines += ["", "| check | result |", "| --- | --- |"]
        lines += [f"| {name} | {'ok' if ok else '**FAILED**'}{': ' + ' '.join(detail.split()) if detail else ''} |"
                  for name, ok, detail in self.checks]
        lines.append("")
        lines.append(f"**{sum(ok for _, ok, _ in self.checks)} of {len(self.checks)} checks passed.**")
        return "\n".join(lines) + "\n"


class Engine:
    """docker or podman, as a few calls."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: str, check: bool = False, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([self.name, *args], capture_output=True, text=True, timeout=timeout, check=check)

    def sh(self, image: str, script: str, *extra: str) -> subprocess.CompletedProcess:
        return self("run", "--rm", *extra, "--entrypoint", "sh", image, "-c", script)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait_ready(base: str, timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if http("GET", f"{base}/readyz", timeout=5)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(1)
    return None


def static_checks(r: Report, eng: Engine, image: str, target: str) -> None:
    script = (
        "echo uid=$(id -u); echo cli=$(command -v asean-mt); "
        "touch /app/service/x 2>/dev/null && echo code=writable || echo code=read-only; "
        "find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -writable -type d ! -perm -1000 -print "
        "| sort | tr '\\n' ' ' | sed 's/^/writable=/'; echo; "
        "python -c 'import importlib.util as u; print(\"torch=\" + str(u.find_spec(\"torch\") is not None))'; "
        "asean-mt --help >/dev/null && echo help=ok; "
        "echo secrets=$(ls -A /run/secrets 2>/dev/null | wc -l) pipconf=$(ls /etc/pip.conf 2>/dev/null | wc -l)"
    )
    out = eng.sh(f"{image}:{target}", script)
    facts = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    r.check(f"{target}: runs as a non-root user", facts.get("uid") == "10001", f"uid {facts.get('uid')}")
    r.check(f"{target}: `asean-mt` on PATH", facts.get("cli") == "/opt/venv/bin/asean-mt"
            and facts.get("help") == "ok", facts.get("cli", out.stderr[-200:]))
    r.check(f"{target}: code read-only for the service", facts.get("code") == "read-only")
    writable = set(facts.get("writable", "").split())
    r.check(f"{target}: only /models and /data writable (besides sticky temp folders)",
            writable == {"/models", "/data"}, " ".join(sorted(writable)))
    r.check(f"{target}: torch {'present' if target == 'full' else 'absent'}",
            facts.get("torch") == str(target == "full"))
    history = eng("history", "--no-trunc", "--format", "{{.CreatedBy}}", f"{image}:{target}").stdout
    r.check(f"{target}: no pip configuration or CA bundle left in the image", facts.get("secrets") == "0 pipconf=0"
            and "index-url" not in history and "find-links" not in history, f"/run/secrets: {facts.get('secrets')}")
    health = eng("image", "inspect", "--format", "{{json .Config.Healthcheck}}", f"{image}:{target}").stdout
    r.check(f"{target}: HEALTHCHECK kept in the image", "readyz" in health)


def install_tiny_model(r: Report, eng: Engine, image: str, volume: str) -> bool:
    script = (
        "from pathlib import Path; from tests import model_factory; "
        "print(model_factory.build_marian(Path('/tmp/tiny-marian')))"
    )
    start = time.monotonic()
    out = eng("run", "--rm", "-v", f"{volume}:/models", "-v", f"{ROOT / 'tests'}:/opt/checks/tests:ro",
              "-e", "PYTHONPATH=/app:/opt/checks", "--entrypoint", "sh", f"{image}:full", "-c",
              f"python -c \"{script}\" && asean-mt models add /tmp/tiny-marian --name {TINY_MODEL}")
    ok = out.returncode == 0
    r.check("full: converts a model (`models add`, tiny random Marian, into the models volume)", ok,
            f"{time.monotonic() - start:.0f} s" if ok else (out.stdout + out.stderr)[-400:])
    return ok


def serve_checks(r: Report, eng: Engine, image: str, models: str, data: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    name = f"asean-mt-check-{os.getpid()}"
    run = ["run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "-v", f"{models}:/models",
           "-v", f"{data}:/data", "-e", "ASEAN_MT_GRACEFUL_TIMEOUT_S=60", f"{image}:runtime"]
    started = eng(*run)
    if not r.check("runtime: container starts", started.returncode == 0,
                   "" if started.returncode == 0 else started.stderr[-300:]):
        return
    try:
        ready = wait_ready(base, READY_TIMEOUT_S)
        r.check("runtime: /readyz 200 (engines loaded)", ready is not None,
                f"after {ready:.0f} s" if ready is not None else eng("logs", name).stderr[-600:])
        if ready is None:
            return
        r.figures["runtime: start to ready"] = f"{ready:.0f} s"
        r.check("runtime: /healthz 200", http("GET", f"{base}/healthz")[0] == 200)
        rss = eng("exec", name, "sh", "-c", "ps -eo rss= 2>/dev/null | awk '{s+=$1} END {print s}'").stdout.strip()
        if rss.isdigit():
            r.figures["runtime: memory of all processes after ready (RSS)"] = f"{int(rss) // 1024} MiB"

        first = SEED.split("\n\n")[1] if "\n\n" in SEED else SEED[:600]
        status, body = http("POST", f"{base}/v1/translate", {"text": first, "source": "id", "targets": ["ms", "en"]})
        items = body.get("items", [{}])[0].get("translations", []) if isinstance(body, dict) else []
        by_target = {t["target"]: t for t in items}
        ms, en = by_target.get("ms", {}), by_target.get("en", {})
        r.check("runtime: id->ms by Apertium", status == 200 and ms.get("engine") == "apertium"
                and bool(ms.get("text")) and ms.get("text") != first, (ms.get("text") or str(body))[:90] + "…")
        r.check("runtime: id->en by CTranslate2 without torch (random weights: structure only)",
                en.get("engine") == "ctranslate2" and en.get("model") == TINY_MODEL and isinstance(en.get("text"), str),
                f"engine {en.get('engine')}, model {en.get('model')}")

        status, body = http("POST", f"{base}/v1/summarize", {"text": SEED, "language": "id", "sentences": 2})
        text = body.get("text", "") if isinstance(body, dict) else ""
        r.check("runtime: summary (extractive, 2 sentences)", status == 200 and len(text) > 40, text[:90] + "…")

        docs = [{"id": f"doc{i}", "text": line} for i, line in enumerate(
            [p for p in SEED.split("\n") if len(p) > 80][:3])]
        status, body = http("POST", f"{base}/v1/jobs", {"documents": docs, "targets": ["ms"], "source": "id"})
        job_id = body.get("id") if isinstance(body, dict) else None
        state, start = None, time.monotonic()
        while job_id and time.monotonic() - start < 300:
            state = http("GET", f"{base}/v1/jobs/{job_id}")[1].get("state")
            if state in ("completed", "cancelled"):
                break
            time.sleep(1)
        results = ""
        if job_id:
            results = urllib.request.urlopen(f"{base}/v1/jobs/{job_id}/results", timeout=30).read().decode()
        lines = [json.loads(x) for x in results.splitlines() if x.strip()]
        r.check("runtime: batch job through the embedded worker", state == "completed" and len(lines) == len(docs)
                and all(x.get("state") == "done" for x in lines),
                f"{len(lines)} documents {state} in {time.monotonic() - start:.0f} s")

        if eng.name == "podman":
            hc = eng("healthcheck", "run", name)
            r.check("runtime: HEALTHCHECK passes (podman healthcheck run)", hc.returncode == 0,
                    (hc.stdout + hc.stderr).strip()[-200:])

        sigterm_checks(r, eng, name, base)
        restart_checks(r, eng, run, name, base, job_id)
    finally:
        eng("rm", "-f", "-t", "0", name) if eng.name == "podman" else eng("rm", "-f", name)


def sigterm_checks(r: Report, eng: Engine, name: str, base: str) -> None:
    """SIGTERM while a request is being answered: it is answered, and the container exits 0 by itself."""
    answer: dict = {}
    texts = ([p for p in SEED.split("\n") if p.strip()] * 4)[:64]  # max_texts: 64

    def slow_request() -> None:
        start = time.monotonic()
        try:
            answer["status"] = http("POST", f"{base}/v1/translate", {"text": texts, "source": "id",
                                                                  "targets": ["en", "ms"], "beam_size": 8})[0]
        except OSError as exc:
            answer["status"] = repr(exc)
        answer["seconds"] = time.monotonic() - start

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    sent = time.monotonic()
    eng("kill", "--signal", "TERM", name)
    exited = None
    while time.monotonic() - sent < 120:
        state = eng("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name).stdout.split()
        if state and state[0] == "false":
            exited = int(state[1])
            break
        time.sleep(0.5)
    thread.join(60)
    stop_s = time.monotonic() - sent
    in_flight = answer.get("seconds", 0) > 0.5
    r.check("runtime: SIGTERM: the request in flight is answered",
            answer.get("status") == 200, f"status {answer.get('status')}, in flight when the signal came: "
            f"{'yes' if in_flight else 'no'} ({answer.get('seconds', 0):.1f} s)")
    r.check("runtime: SIGTERM: exits 0 by itself (gunicorn and the embedded worker)", exited == 0,
            f"exit {exited} after {stop_s:.1f} s")
    r.figures["runtime: SIGTERM to exit"] = f"{stop_s:.1f} s"


def restart_checks(r: Report, eng: Engine, run: list[str], name: str, base: str, job_id: str | None) -> None:
    eng("rm", "-f", name)
    if eng(*run).returncode != 0 or wait_ready(base, READY_TIMEOUT_S) is None:
        r.check("runtime: restarted with the same volumes", False, eng("logs", name).stderr[-300:])
        return
    status, body = http("GET", f"{base}/v1/jobs/{job_id}")
    r.check("runtime: the job is still there after a restart (/data volume)", status == 200
            and isinstance(body, dict) and body.get("state") == "completed")


def compose_checks(r: Report, compose: list[str]) -> None:
    """compose.yaml's stack, with Apertium only (empty models volume): two web replicas, two workers, Redis,
    PostgreSQL. A job submitted through one replica is read through the other; the stack stops cleanly."""
    project = f"asean-mt-check-{os.getpid()}"
    while True:  # two consecutive free ports for the two web replicas
        first = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", first + 1))
            break
        except OSError:
            continue
    env = {**os.environ, "ASEAN_MT_SECRET_KEY": os.urandom(16).hex(), "COMPOSE_PROJECT_NAME": project,
           "ASEAN_MT_WEB_PORTS": f"127.0.0.1:{first}-{first + 1}"}
    cmd = [*compose, "-p", project, "-f", str(ROOT / "compose.yaml")]

    def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)

    start = time.monotonic()
    up = run("up", "-d")
    errors = [line for line in (up.stdout + up.stderr).splitlines() if line.startswith("Error")]
    if not r.check("compose: `up -d` starts the stack", up.returncode == 0, " / ".join(errors)[-500:]):
        run("down", "-v")
        return
    try:
        bases = [f"http://127.0.0.1:{first + i}" for i in range(2)]
        ready = [wait_ready(b, READY_TIMEOUT_S) for b in bases]
        r.check("compose: both web replicas ready", all(x is not None for x in ready),
                f"after {time.monotonic() - start:.0f} s")
        if not all(x is not None for x in ready):
            r.check("compose: logs", False, run("logs").stdout[-800:])
            return
        r.figures["compose: `up` to both replicas ready"] = f"{time.monotonic() - start:.0f} s"
        ps = run("ps").stdout
        r.figures["compose: containers"] = " ".join(sorted(re.findall(rf"{project}[_-](\w+)[_-]\d", ps)))
        answers = [http("POST", f"{b}/v1/translate", {"text": "Kota cerdas di wilayah ASEAN.", "source": "id",
                                                       "targets": ["ms"]})[0] for b in bases]
        r.check("compose: both replicas translate (Apertium)", answers == [200, 200], str(answers))
        docs = [{"id": f"c{i}", "text": f"Pertemuan tahunan ke-{i} di Kuala Lumpur."} for i in range(20)]
        _, job = http("POST", f"{bases[0]}/v1/jobs", {"documents": docs, "targets": ["ms"], "source": "id"})
        state, t0 = None, time.monotonic()
        while isinstance(job, dict) and time.monotonic() - t0 < 300:
            state = http("GET", f"{bases[1]}/v1/jobs/{job.get('id')}")[1]
            if isinstance(state, dict) and state.get("state") == "completed":
                break
            time.sleep(1)
        ok = isinstance(state, dict) and state.get("state") == "completed" and state["counts"]["done"] == len(docs)
        r.check("compose: a job submitted on replica 1, read to the end on replica 2 (workers, Redis, PostgreSQL)",
                ok, f"{state.get('counts') if isinstance(state, dict) else state} in {time.monotonic() - t0:.0f} s")
    finally:
        t0 = time.monotonic()
        down = run("down", "-v")
        r.check("compose: `down` stops and removes the stack", down.returncode == 0,
                f"{time.monotonic() - t0:.0f} s" if down.returncode == 0 else down.stderr[-300:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--built", action="append", default=[], help="TARGET=SECONDS:BYTES")
    ap.add_argument("--report", type=Path)
    ap.add_argument("--compose", help="also run compose.yaml's stack with this command (e.g. podman-compose)")
    ap.add_argument("--compose-only", action="store_true", help="only the compose stack's checks")
    args = ap.parse_args()
    built = {t: tuple(map(int, v.split(":"))) for t, v in (b.split("=", 1) for b in args.built)}
    r = Report(args.engine, args.image, built)  # type: ignore[arg-type]
    eng = Engine(args.engine)
    suffix = os.getpid()
    models, data = f"asean-mt-check-models-{suffix}", f"asean-mt-check-data-{suffix}"
    try:
        for target in () if args.compose_only else ("runtime", "full"):
            static_checks(r, eng, args.image, target)
        if not args.compose_only and install_tiny_model(r, eng, args.image, models):
            serve_checks(r, eng, args.image, models, data)
    finally:
        eng("volume", "rm", "-f", models, data)
    if args.compose:
        compose_checks(r, args.compose.split())
    print(f"{sum(ok for _, ok, _ in r.checks)} of {len(r.checks)} checks passed", flush=True)
    if args.report:
        args.report.write_text(r.markdown(), encoding="utf-8")
    return 0 if r.passed else 1


if __name__ == "__main__":
    sys.exit(main())
