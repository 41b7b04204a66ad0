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
