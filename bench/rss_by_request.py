"""RSS per request kind in one process (the soak's leak hunt): 300 requests of a kind to warm up, then RSS after
1,500 and 3,000 more. A kind whose RSS keeps growing leaks (below Python too: tracemalloc sees only Python's own
allocations); one that levels off is filling a bounded cache.

    python bench/rss_by_request.py [--requests 1500]    # Apertium id->ms, a data folder of its own
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("ASEAN_MT_DATA_DIR", tempfile.mkdtemp(prefix="asean-mt-rss-"))
os.environ.setdefault("ASEAN_MT_EMBEDDED_WORKER", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from service.config import load_settings  # noqa: E402
from service.http import create_app  # noqa: E402

KINDS = ["translate", "detect", "summarize", "lt_translate", "bad_input", "missing_model", "metrics", "job_submit",
         "job_poll"]


def rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    client = create_app(load_settings(), warm="sync").test_client()
    sentences = [line.strip()[:300] for line in (REPO / "examples" / "ascn-shepherd-2025.id.txt")
                 .read_text(encoding="utf-8").splitlines() if line.strip()]
    jobs: list[str] = []

    def request(kind: str) -> None:
        text = random.choice(sentences)
        if kind == "translate":
            client.post("/v1/translate", json={"text": text, "source": "id", "targets": ["ms"]})
        elif kind == "detect":
            client.post("/v1/detect", json={"text": text})
        elif kind == "summarize":
            client.post("/v1/summarize", json={"text": " ".join(random.sample(sentences, 4)), "sentences": 2})
        elif kind == "lt_translate":
            client.post("/translate", data={"q": text, "source": "auto", "target": "ms"})
        elif kind == "bad_input":
            client.post("/v1/translate", data=b'{"text": "a", ', headers={"Content-Type": "application/json"})
        elif kind == "missing_model":
            client.post("/v1/translate", json={"text": text, "source": "id", "targets": ["en"]})
        elif kind == "metrics":
            client.get("/metrics")
        elif kind == "job_submit":
            response = client.post("/v1/jobs", json={"documents": [{"id": f"d{i}", "text": text} for i in range(3)],
                                                     "targets": ["ms"], "source": "id"})
            if response.status_code == 201:
                jobs.append(response.get_json()["id"])
        elif kind == "job_poll" and jobs:
            client.get(f"/v1/jobs/{random.choice(jobs)}")

    print("| kind | RSS after warm-up (MiB) | after n more | after 2n more | growth 1 | growth 2 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in KINDS:
        points = []
        for n in (300, args.requests, args.requests):
            for _ in range(n):
                request(kind)
            gc.collect()
            points.append(rss_mib())
        print(f"| {kind} | {points[0]:.1f} | {points[1]:.1f} | {points[2]:.1f} | {points[1] - points[0]:+.1f} | "
              f"{points[2] - points[1]:+.1f} |", flush=True)


if __name__ == "__main__":
    main()
