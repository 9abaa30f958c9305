"""One source for each process's command line: scripts/run_all.sh (`make run`), the integration test cluster,
the images, compose.yaml and the Kubernetes manifests all take it from deploy/processes.yml. These fail when one
of them would run something else, or when a generated file was not rendered again after the definition changed."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import yaml
from dotenv import dotenv_values

from scripts.deploy import render
from scripts.deploy.checks import compose_problems, reference_problems
from scripts.deploy.kustomize import build
from scripts.processes import load, local_argv
from tests.conftest import ROOT


def dry_run(**extra: str) -> Dict[str, List[str]]:
    """What scripts/run_all.sh would start: supervisor name -> argv."""
    env = {**os.environ, **{k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}, **extra,
           "RUN_ALL_DRY_RUN": "1", "PYTHONPATH": str(ROOT)}
    env.pop("RASA_URLS", None)
    out = subprocess.run(["bash", "scripts/run_all.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    started = {}
    for line in out.stdout.splitlines():
        head, _, command = line.partition(": ")
        name = head.removeprefix("would start ").removeprefix("would ").split(" (--every")[0]
        started[name] = shlex.split(command)
    return started


def test_run_all_starts_exactly_the_defined_command_lines() -> None:
    started = dry_run(TELEGRAM_BOT_TOKEN="123:abc", RASA_REPLICAS="3", RASA_PORT="5105")
    env = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    env.update(TELEGRAM_BOT_TOKEN="123:abc", RASA_PORT="5105")
    definition = load()
    expected = {f"rasa replica {i + 1}": local_argv("rasa", {**env, "RASA_PORT": str(5105 + i)}) for i in range(3)}
    for process in definition.processes.values():
        if process.name != "rasa":
            name = "run migrations" if process.kind == "once" else process.title
            expected[name] = local_argv(process.name, env)
    assert started == expected


def test_run_all_leaves_the_bridge_out_without_a_token() -> None:
    assert "telegram bridge" not in dry_run(TELEGRAM_BOT_TOKEN="")


def test_the_integration_cluster_runs_the_defined_command_lines(tmp_path: Path) -> None:
    from tests.integration.cluster import Cluster
    from tests.integration.conftest import TOKEN

    cluster = Cluster(tmp_path, replicas=2, base=17100)
    env = {**os.environ, "RASA_HOST": "127.0.0.1", "ACTIONS_HOST": "127.0.0.1", "APP_HOST": "127.0.0.1"}
    assert cluster.actions.argv == local_argv("actions", {**env, "ACTIONS_PORT": "17155"}, root=ROOT)
    assert [r.argv for r in cluster.rasa] == [
        local_argv("rasa", {**env, "RASA_PORT": str(p), "RASA_AUTH_TOKEN": TOKEN}, root=ROOT) for p in (17105, 17106)]
    assert cluster.gateway.argv == local_argv("web", {**env, "APP_PORT": "17180"}, root=ROOT)
    assert cluster.worker.argv == local_argv("worker", env, root=ROOT)
    assert cluster.migrate_argv == local_argv("migrate", env, root=ROOT)
    assert cluster.rasa[0].ready_url.endswith(load()["rasa"].health["ready"])
    cluster.engine.dispose()


def test_compose_and_the_manifests_run_defined_processes_on_their_images() -> None:
    assert compose_problems() == []
    for overlay in ("dev", "production"):
        assert reference_problems(build(ROOT / "deploy" / "k8s" / "overlays" / overlay)) == []


def test_the_committed_generated_files_are_current() -> None:
    assert render.stale() == [], "run `python -m scripts.deploy render` and commit the result"


def test_a_changed_definition_makes_the_committed_files_stale(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "deploy" / "processes.yml").read_text())
    raw["processes"]["web"]["health"]["ready"] = "/ready-now"
    changed = tmp_path / "processes.yml"
    changed.write_text(yaml.safe_dump(raw))
    stale = render.stale(definition_path=changed)
    assert "compose.yaml" in stale and "deploy/k8s/base/web.yaml" in stale
    assert "deploy/k8s/base/rasa.yaml" not in stale
