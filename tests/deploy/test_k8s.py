"""The Kustomize overlays, built by scripts/deploy/kustomize.py and validated offline against the Kubernetes API
schemas (kubernetes-validate, strict) and this project's cross-references, and what their NetworkPolicies admit."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from scripts.deploy import KUBERNETES_VERSIONS, SECRET_NAME
from scripts.deploy.checks import _matches, overlay_problems, reference_problems, schema_problems
from scripts.deploy.kustomize import KustomizeError, build, containers, merge
from scripts.deploy.settings import PLACED, SECRET_VARIABLES, UnplacedSecret, example, settings
from tests.conftest import ROOT

OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"


def built(overlay: str) -> List[Dict[str, Any]]:
    return build(OVERLAYS / overlay)


def find(docs: List[Dict[str, Any]], kind: str, name: str) -> Dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_each_overlay_builds_and_is_valid_for_the_stated_kubernetes_versions(overlay: str) -> None:
    assert KUBERNETES_VERSIONS == ("1.33", "1.37")
    assert overlay_problems(OVERLAYS / overlay) == []


def test_the_production_overlay_has_what_a_platform_team_expects() -> None:
    docs = built("production")
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for workload in ("gzcp-rasa", "gzcp-actions", "gzcp-web", "gzcp-worker", "gzcp-telegram"):
        assert ("Deployment", workload) in kinds
    assert {("HorizontalPodAutoscaler", "gzcp-rasa"), ("HorizontalPodAutoscaler", "gzcp-web"), ("Job", "gzcp-migrate"),
            ("CronJob", "gzcp-retention"), ("Ingress", "gzcp-web"), ("ServiceMonitor", "gzcp-web")} <= kinds
    assert {name for kind, name in kinds if kind == "PodDisruptionBudget"} == {"gzcp-rasa", "gzcp-actions", "gzcp-web"}
    assert all(d["metadata"].get("namespace") == "gzcp" for d in docs if d["kind"] != "Namespace")
    assert not any(d["kind"] == "Secret" for d in docs)
    for doc in docs:
        for container in containers(doc):
            assert container["image"].startswith("registry.example.org/gzcp/") and container["image"].endswith(":0.1.0")
    rasa = find(docs, "Deployment", "gzcp-rasa")["spec"]["template"]["spec"]["containers"][0]
    assert rasa["readinessProbe"]["httpGet"]["path"] == "/webhooks/health/ready"
    assert rasa["resources"]["limits"]["memory"] == "1Gi"
    assert find(docs, "Deployment", "gzcp-worker")["spec"]["replicas"] == 2  # the overlay's replicas
    assert "replicas" not in find(docs, "Deployment", "gzcp-rasa")["spec"]  # the autoscaler's to set


def test_secrets_are_referenced_never_written_and_every_setting_reaches_the_containers() -> None:
    docs = built("production")
    config = find(docs, "ConfigMap", "gzcp-config")["data"]
    assert not set(config) & SECRET_VARIABLES
    for doc in docs:
        for container in containers(doc):
            for var in container.get("env", []):
                if var["name"] in SECRET_VARIABLES:
                    assert var["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME
    for name in example():
        assert name in config or name in SECRET_VARIABLES or name in PLACED, f"{name} reaches no container"
    assert config["STAFF_COOKIE_SECURE"] == "true" and config["APP_ENV"] == "production"
    assert find(built("dev"), "ConfigMap", "gzcp-config")["data"]["APP_ENV"] == "development"


def test_a_new_setting_that_looks_like_a_secret_is_not_written_into_a_manifest(tmp_path: Path) -> None:
    env = tmp_path / ".env.example"
    env.write_text((ROOT / ".env.example").read_text() + "\nWEIBO_APP_SECRET=dev-only-weibo\n")
    with pytest.raises(UnplacedSecret, match="WEIBO_APP_SECRET"):
        settings(env)


@pytest.mark.parametrize("breakage, expected", [
    (lambda d: d["spec"].__setitem__("replicas", "two"), "'two' is not of type 'integer'"),
    (lambda d: d["spec"]["template"]["spec"].__setitem__("terminationGracePeriodSeconds", "30s"), "'30s' is not of type"),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].__setitem__("containerport", 5005),
     "Additional properties are not allowed"),
])
def test_a_broken_manifest_is_refused_by_the_api_schema(breakage: Any, expected: str) -> None:
    docs = built("production")
    rasa = copy.deepcopy(find(docs, "Deployment", "gzcp-rasa"))
    breakage(rasa)
    problems = schema_problems([rasa])
    assert problems and any(expected in p for p in problems), problems


@pytest.mark.parametrize("breakage, expected", [
    (lambda docs: find(docs, "Service", "gzcp-rasa")["spec"]["ports"][0].__setitem__("targetPort", "web"),
     "targetPort 'web' is no container port"),
    (lambda docs: find(docs, "Deployment", "gzcp-web")["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("args", ["worker"]), "worker is no server: no ports or probes"),
    (lambda docs: find(docs, "Deployment", "gzcp-worker")["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("args", ["migrate"]), "runs to completion: a Job or CronJob, not a Deployment"),
    (lambda docs: find(docs, "Deployment", "gzcp-actions")["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("args", ["web"]), "runs in image gzcp-app, not gzcp-actions"),
    (lambda docs: find(docs, "Deployment", "gzcp-rasa")["spec"]["template"]["spec"]["containers"][0]["env"]
     .pop(1), "nothing sets RASA_AUTH_TOKEN"),
    (lambda docs: find(docs, "ConfigMap", "gzcp-config")["data"].pop("RASA_PORT"), "nothing sets RASA_PORT"),
    (lambda docs: find(docs, "Deployment", "gzcp-web")["spec"]["template"]["spec"]["containers"][0]["resources"]
     .pop("limits"), "resources.limits needs cpu and memory"),
    (lambda docs: find(docs, "Deployment", "gzcp-web")["spec"]["template"]["spec"]["containers"][0]["env"]
     .append({"name": "METRICS_TOKEN", "value": "written-down"}), "METRICS_TOKEN written as a value"),
    (lambda docs: find(docs, "ServiceMonitor", "gzcp-web")["spec"]["endpoints"][0].__setitem__("port", "metrics"),
     "no selected Service has port 'metrics'"),
    (lambda docs: find(docs, "Deployment", "gzcp-worker")["spec"]["template"]["spec"]["securityContext"]
     .pop("runAsNonRoot"), "runAsNonRoot is not true"),
])
def test_a_manifest_whose_references_do_not_hold_is_refused(breakage: Any, expected: str) -> None:
    docs = copy.deepcopy(built("production"))
    breakage(docs)
    problems = reference_problems(docs)
    assert any(expected in p for p in problems), problems


def test_a_broken_copy_of_the_files_is_refused(tmp_path: Path) -> None:
    """`make deploy-check` on a copy where a base file, a patch and a kustomization are broken."""
    shutil.copytree(ROOT / "deploy" / "k8s", tmp_path / "k8s")
    base = tmp_path / "k8s" / "base" / "web.yaml"
    base.write_text(base.read_text().replace("containerPort: 8000", "containerPort: eight-thousand", 1))
    assert any("'eight-thousand' is not of type 'integer'" in p
               for p in overlay_problems(tmp_path / "k8s" / "overlays" / "production"))
    patch = tmp_path / "k8s" / "overlays" / "dev" / "patches" / "autoscaling.yaml"
    patch.write_text(patch.read_text().replace("name: gzcp-web", "name: gzcp-webapp"))
    assert any("no HorizontalPodAutoscaler gzcp-webapp to patch" in p
               for p in overlay_problems(tmp_path / "k8s" / "overlays" / "dev"))
    kustomization = tmp_path / "k8s" / "overlays" / "production" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "commonLabels:\n  team: city\n")
    assert any("does not apply commonLabels" in p for p in overlay_problems(tmp_path / "k8s" / "overlays" / "production"))


def test_strategic_merge_merges_named_items_and_replaces_other_lists() -> None:
    base = {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "args": ["x"]}, {"name": "b"}]}
    patch = {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}], "args": ["y"]}]}
    assert merge(base, patch) == {"containers": [
        {"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}], "args": ["y"]}, {"name": "b"}]}
    with pytest.raises(KustomizeError, match="no kustomization.yaml"):
        build(ROOT / "deploy")


# --- what the NetworkPolicies admit -----------------------------------------------------------------------------

def admitted(docs: List[Dict[str, Any]], source: Optional[str], namespace: str, target: str, port: int) -> bool:
    """Would a pod with component `source` (None: any other pod) in `namespace` reach `target`'s pods on `port`?"""
    home = "gzcp"
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    target_labels = {"app.kubernetes.io/part-of": "gzcp", "app.kubernetes.io/component": target}
    source_labels = {"app.kubernetes.io/part-of": "gzcp", "app.kubernetes.io/component": source} if source else {}
    selecting = [p for p in policies if _matches(p["spec"]["podSelector"], target_labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            if rule.get("ports") and port not in [p["port"] for p in rule["ports"]]:
                continue
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    if _matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}):
                        return True
                elif namespace == home and _matches(peer["podSelector"], source_labels):
                    return True
    return False


@pytest.mark.parametrize("source, namespace, target, port, allowed", [
    (None, "ingress-nginx", "web", 8000, True),
    (None, "ingress-nginx", "rasa", 5005, False),
    (None, "ingress-nginx", "actions", 5055, False),
    ("web", "gzcp", "rasa", 5005, True),
    ("telegram", "gzcp", "rasa", 5005, True),
    ("worker", "gzcp", "rasa", 5005, False),
    ("rasa", "gzcp", "actions", 5055, True),
    ("web", "gzcp", "actions", 5055, False),
    ("worker", "gzcp", "web", 8000, True),
    (None, "other-team", "web", 8000, False),
    (None, "monitoring", "web", 8000, True),
    (None, "monitoring", "rasa", 5005, False),
    ("rasa", "gzcp", "worker", 8000, False),
])
def test_only_the_web_app_is_reachable_from_the_ingress_and_rasa_and_actions_only_from_inside(
        source: Optional[str], namespace: str, target: str, port: int, allowed: bool) -> None:
    assert admitted(built("production"), source, namespace, target, port) is allowed
