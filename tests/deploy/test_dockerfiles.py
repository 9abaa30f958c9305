"""The Dockerfiles: hadolint and the project's own rules pass, and each refuses a broken copy; the build context
(.dockerignore) holds what the images copy and nothing secret; the Rasa image has every module its config names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

import pytest
import yaml

from scripts.deploy import dockerfiles
from scripts.deploy.checks import dockerfile_problems, dockerignore_problems, dockerignore_rules, in_context
from scripts.processes import load
from tests.conftest import ROOT

RASA = ROOT / "deploy" / "docker" / "rasa.Dockerfile"


def test_every_dockerfile_passes_hadolint_and_the_projects_rules() -> None:
    assert dockerfiles.hadolint_binary() is not None
    assert dockerfile_problems() == []


@pytest.mark.parametrize("old, new, ours, hadolint_rule", [
    ("USER 10001:10001", "USER root", "must end with USER <uid>:<gid>", "DL3002"),
    ("FROM python:3.10.19-slim-bookworm\nENV PATH", "FROM python:3.10\nENV PATH", "pin an exact version", None),
    ("FROM python:3.10.19-slim-bookworm AS build", "FROM python:latest AS build", "pin an exact version", "DL3007"),
    ("WORKDIR /app\n", "WORKDIR /app\nADD components components\n", "ADD: use COPY", "DL3020"),
    # hadolint allows ADD of a URL, and does not see /opt/venv/bin/pip as pip: our rules do
    ("WORKDIR /app\n", "WORKDIR /app\nADD https://example.org/model.tar.gz models/\n", "ADD: use COPY", None),
    ("pip install --no-cache-dir --require-hashes", "pip install --require-hashes", "without --no-cache-dir", None),
    ("pip install --no-cache-dir --require-hashes", "pip install --no-cache-dir", "without --require-hashes", None),
    ('CMD ["rasa"]', 'CMD ["worker"]', "CMD must be one process of this image", None),
    ('ENTRYPOINT ["python", "-m", "scripts.processes", "exec"]', 'ENTRYPOINT ["rasa"]', "ENTRYPOINT must be", None),
    ("COPY requirements/rasa.runtime.lock.txt", "COPY requirements/rasa.lock.txt", "does not install", None),
])
def test_a_broken_dockerfile_is_refused(tmp_path: Path, old: str, new: str, ours: str, hadolint_rule: str) -> None:
    text = RASA.read_text()
    assert old in text
    broken = tmp_path / "rasa.Dockerfile"
    broken.write_text(text.replace(old, new, 1))
    assert any(ours in p for p in dockerfiles.lint(broken, "rasa", load()))
    if hadolint_rule:
        assert any(hadolint_rule in p for p in dockerfiles.hadolint(broken))


def test_the_build_context_holds_what_the_images_copy_and_nothing_secret(tmp_path: Path) -> None:
    assert dockerignore_problems() == []
    rules = dockerignore_rules()
    assert in_context("models/current.tar.gz", rules) and not in_context("models/old.tar.gz", rules)
    assert not in_context("bot/shared/__pycache__/x.pyc", rules)
    loose = tmp_path / ".dockerignore"
    loose.write_text("\n".join(r for r in rules if r != "*"))
    assert any(".env into the build context" in p for p in dockerignore_problems(path=loose))
    tight = tmp_path / ".dockerignore2"
    tight.write_text("\n".join(r for r in rules if r != "!components/"))
    assert any("leaves out components" in p for p in dockerignore_problems(path=tight))


def copied(dockerfile: Path) -> List[str]:
    return [source for i in dockerfiles.parse(dockerfile.read_text())
            if i.keyword == "COPY" and not i.args.startswith("--from") for source in i.args.split()[:-1]]


def test_the_rasa_image_has_every_module_its_configuration_names() -> None:
    names = re.findall(r"\b((?:components|rasa_addons|bot)\.[\w.]+)", "".join(
        (ROOT / f).read_text() for f in ("config.yml", "endpoints.yml", "credentials.yml", "rasa_logging.yml")))
    assert names
    sources = copied(RASA)
    for name in names:
        module = name.split(".")
        assert any("/".join(module[:i]).startswith(s.rstrip("/")) or s.rstrip("/") in "/".join(module[:i])
                   for s in sources for i in range(1, len(module) + 1)), f"{name} is not in the Rasa image"
    assert "models/current.tar.gz" in sources
    definition = yaml.safe_load((ROOT / "deploy" / "processes.yml").read_text())
    assert "models/current.tar.gz" in definition["processes"]["rasa"]["command"]
