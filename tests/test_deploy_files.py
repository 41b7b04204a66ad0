"""The deployment files agree with the service and with each other: compose.yaml, deploy/k8s/ and the
Dockerfile. (The image itself is built and run by `scripts/image.sh test`; the stack's processes run in
tests/test_scaleout.py.)"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import pytest
import yaml

from service.config import Settings
from tests.conftest import REPO

K8S = REPO / "deploy" / "k8s"


def setting_names() -> set[str]:
    fields = getattr(Settings, "model_fields", None)  # pydantic-settings, or the dataclass of today
    return set(fields) if fields else {f.name for f in dataclasses.fields(Settings)}


def env_names(env: dict | list) -> set[str]:
    if isinstance(env, list):  # k8s: [{name, value}]
        return {e["name"] for e in env}
    return set(env)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        found = yaml.safe_load_all(path.read_text(encoding="utf-8"))
        docs.extend(d for d in found if d and d["kind"] != "Kustomization")
    return docs


def test_every_asean_mt_variable_is_a_setting(compose: dict, k8s: list[dict]) -> None:
    names = set(compose["x-asean-mt"]["environment"])
    for doc in k8s:
        names |= set(doc.get("stringData", {}))
        for c in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            names |= env_names(c.get("env", []))
    fields = setting_names()
    variables = {n for n in names if n.startswith("ASEAN_MT_")}
    assert variables and {n.removeprefix("ASEAN_MT_").lower() for n in variables} <= fields


def test_compose_stack_shape(compose: dict) -> None:
    services = compose["services"]
    assert {"web", "worker", "redis", "postgres", "convert"} <= set(services)
    for name in ("web", "worker"):
        s = services[name]
        assert s["deploy"]["replicas"] >= 2
        assert {d: c["condition"] for d, c in s["depends_on"].items()} == {"redis": "service_healthy",
                                                                         "postgres": "service_healthy"}
        env = s["environment"]
        assert "@postgres:5432/" in env["ASEAN_MT_JOBS_DATABASE_URL"]
        assert env["ASEAN_MT_BROKER_URL"].startswith("redis://redis:6379/")
        assert "models:/models:ro" in s["volumes"]
    for name in ("web", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "models:/models" in services["convert"]["volumes"] and services["convert"]["profiles"] == ["tools"]
    assert services["convert"]["image"].endswith(":full}") and services["web"]["image"].endswith(":runtime}")


def seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)(s|m)", value)
    assert m, value
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def test_stop_grace_outlasts_the_graceful_timeout(compose: dict, k8s: list[dict]) -> None:
    graceful = Settings().graceful_timeout_s
    assert seconds(compose["services"]["web"]["stop_grace_period"]) > graceful
    web = next(d for d in k8s if d["kind"] == "Deployment" and d["metadata"]["name"] == "asean-mt-web")
    pod = web["spec"]["template"]["spec"]
    pre_stop = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > graceful + pre_stop


def test_dockerfile_and_compose_health_checks_agree(compose: dict) -> None:
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r"HEALTHCHECK .*?CMD (\[.*?\])\n", dockerfile, re.S)
    assert found
    assert yaml.safe_load(found.group(1)) == compose["services"]["web"]["healthcheck"]["test"][1:]


def test_k8s_objects_fit_together(k8s: list[dict]) -> None:
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in k8s:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind["Deployment"]
    assert set(deployments) == {"asean-mt-web", "asean-mt-worker"}
    for d in deployments.values():
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["image"].endswith(":runtime")
        assert {"secretRef": {"name": "asean-mt"}} in container["envFrom"]
        claims = [v["persistentVolumeClaim"]["claimName"] for v in d["spec"]["template"]["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]
        assert claims == ["asean-mt-models"]
    web = deployments["asean-mt-web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["readinessProbe"]["httpGet"]["port"] in {p["name"] for p in web["ports"]}
    service = by_kind["Service"]["asean-mt-web"]
    assert service["spec"]["selector"].items() <= deployments["asean-mt-web"]["spec"]["template"]["metadata"][
        "labels"].items()
    hpa = by_kind["HorizontalPodAutoscaler"]["asean-mt-web"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "asean-mt-web"}
    assert by_kind["PersistentVolumeClaim"]["asean-mt-models"]
    assert by_kind["Job"]["asean-mt-models-pull"]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        ":full")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds() -> None:
    out = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(out.stdout) if d]
    assert sorted(kinds) == sorted(["Secret", "PersistentVolumeClaim", "Job", "Deployment", "Service",
                                    "HorizontalPodAutoscaler", "Deployment"])


def runtime_distributions() -> set[str]:
    """The distributions the runtime install brings: the base requirements of pyproject.toml (no extras of ours)
    and, recursively, what they require."""
    import importlib.metadata as md
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue
        for line in requires:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(sub)
    return seen


def test_the_runtime_images_warm_imports_exist() -> None:
    """The runtime image imports these at build time: each must come from the runtime requirements (a module
    from a dev-only package failed the image build after minutes: lingua did, once it left the runtime set)."""
    import importlib.metadata as md

    from packaging.utils import canonicalize_name

    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r'ARG WARM_IMPORTS="([^"]+)"', text)
    assert found, "no WARM_IMPORTS in the Dockerfile"
    modules = found.group(1).replace("\\\n", " ").split()
    runtime = runtime_distributions()
    owners = md.packages_distributions()
    outside = [m for m in modules if m.split(".")[0] != "service"
               and not any(canonicalize_name(d) in runtime for d in owners.get(m.split(".")[0], []))]
    assert modules and not outside, f"not in the runtime requirements: {outside}"


def test_the_runtime_image_keeps_babel_data_for_every_interface_language() -> None:
    """The runtime image deletes Babel's CLDR data except for UI_LOCALES: a new interface language (a folder in
    service/http/translations/) must be added there, or its pages would lose their language names and dates."""
    declared = re.search(r'ARG UI_LOCALES="([^"]+)"', (REPO / "Dockerfile").read_text(encoding="utf-8"))
    assert declared, "the Dockerfile declares UI_LOCALES"
    translations = REPO / "service" / "http" / "translations"
    interface = {"en"} | {p.name for p in translations.iterdir() if (p / "LC_MESSAGES").is_dir()}
    assert interface - set(declared.group(1).split()) == set()
