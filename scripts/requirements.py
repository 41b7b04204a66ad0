"""Print the project's requirements from pyproject.toml, one a line: the base set plus the extras named.

    python3 scripts/requirements.py            # what the runtime image installs
    python3 scripts/requirements.py full       # plus torch (conversion, the transformers engine)

The Dockerfile installs dependencies from pyproject.toml alone with this, so that its dependency layer is
rebuilt only when pyproject.toml changes, not on every code change. Standard library only (Python 3.11+).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the repository's pyproject.toml, or one copied beside this script (as the Dockerfile does)
PYPROJECT = next((p for p in (HERE.parent / "pyproject.toml", HERE / "pyproject.toml") if p.is_file()),
                 HERE.parent / "pyproject.toml")


def requirements(extras: list[str], pyproject: Path = PYPROJECT) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    unknown = [e for e in extras if e not in optional]
    if unknown:
        raise SystemExit(f"unknown extra(s) {', '.join(unknown)}; pyproject.toml has {', '.join(optional)}")
    return list(project["dependencies"]) + [r for e in extras for r in optional[e]]


if __name__ == "__main__":
    print("\n".join(requirements([e for arg in sys.argv[1:] for e in arg.split(",") if e])))
