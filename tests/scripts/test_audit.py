"""scripts/audit.sh: fails on what pip-audit finds, passes the Rasa exceptions, and never passes silently when
no vulnerability service answers (fake `curl` and `pip-audit` on PATH; no network needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def run(tmp_path: Path, curl_ok: bool, audit_exit: int = 0, required: bool = False) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "curl").write_text(f"#!/bin/sh\nexit {0 if curl_ok else 6}\n")
    log = tmp_path / "calls.log"
    (bin_dir / "pip-audit").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexit {audit_exit}\n')
    for tool in ("curl", "pip-audit"):
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PIP_AUDIT": str(bin_dir / "pip-audit"),
           "AUDIT_REQUIRED": "1" if required else "0"}
    return subprocess.run(["bash", "scripts/audit.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_offline_it_says_nothing_was_audited_and_fails_only_when_required(tmp_path: Path) -> None:
    offline = run(tmp_path, curl_ok=False)
    assert offline.returncode == 0 and "NOT AUDITED" in offline.stdout
    assert run(tmp_path, curl_ok=False, required=True).returncode == 1


def test_a_finding_fails_the_run_and_both_lock_files_are_audited(tmp_path: Path) -> None:
    assert run(tmp_path, curl_ok=True, audit_exit=0).returncode == 0
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert any("requirements/app.lock.txt" in c and "--strict" in c for c in calls)
    assert any("requirements/rasa.lock.txt" in c for c in calls)
    assert run(tmp_path, curl_ok=True, audit_exit=1).returncode == 1
