"""The walk of issue 16, with real processes: a user asks something the assistant cannot answer, an editor fixes
it in the staff console from the dashboard's list, and the assistant answers it — no retraining, no restart.

The action server, a Rasa server and the web app run on the test ports against one copy of the program data
(PROGRAM_DATA_DIR), which the console edits; the repository's data is never touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator

import httpx
import pytest

from bot.shared.funnel import Funnel
from bot.shared.program.knowledge import DATA_DIR
from bot.shared.redis_conn import env_for_db
from tests import redis_env
from tests.conftest import ROOT
from tests.fakes.server import free_port
from tests.integration.conftest import MODEL, TOKEN, _wait, actions_argv, rasa_argv

# Ports of this module's own processes: never the shared `stack` fixture's (it may be running in the same
# session, and would answer in place of these — against the repository's data, not the edited copy).
RASA_PORT, ACTIONS_PORT, INTAKE_PORT = free_port(), free_port(), free_port()

EDITOR, PASSWORD = "editor@staff.example.org", "an editor's long password"
QUESTION = "Is there a dress code for the partner signing ceremony?"
ANSWER = "Partners attend the signing ceremony in business attire; national dress is welcome."


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Any]]:
    assert MODEL.exists(), "no trained model: run `make model` first"
    directory = tmp_path_factory.mktemp("staff-e2e")
    data = directory / "data"
    shutil.copytree(DATA_DIR, data)
    redis_db = int(os.environ.get("REDIS_DB", "15"))
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), **env_for_db(os.environ, redis_db), "PROGRAM_DATA_DIR": str(data),
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{ACTIONS_PORT}/webhook", "TRACKER_TTL_SECONDS": "3600",
        "DATABASE_URL": f"sqlite:///{directory / 'leads.db'}", "STAFF_NLU_DIR": str(directory / "nlu"),
        "STAFF_COOKIE_SECURE": "false", "TELEGRAM_BOT_TOKEN": "", "STAFF_TELEGRAM_CHAT_ID": "",
    }
    subprocess.run([sys.executable, "-m", "bot.db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "bot.staff", "create", "--email", EDITOR, "--role", "editor", "--password-stdin"],
                   input=PASSWORD, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    web_argv = [sys.executable, "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(INTAKE_PORT),
                "--log-level", "warning"]
    procs, logs = [], {}
    try:
        for name, argv in (("actions", actions_argv(ACTIONS_PORT)), ("rasa", rasa_argv(RASA_PORT)), ("web", web_argv)):
            logs[name] = directory / f"{name}.log"
            procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=logs[name].open("w"), stderr=subprocess.STDOUT))
        _wait(f"http://127.0.0.1:{ACTIONS_PORT}/health", procs[0], logs["actions"], 120)
        _wait(f"http://127.0.0.1:{RASA_PORT}/status?token={TOKEN}", procs[1], logs["rasa"], 240)
        _wait(f"http://127.0.0.1:{INTAKE_PORT}/healthz", procs[2], logs["web"], 60)
        yield {"data": data, "redis": redis_env.client(redis_db, decode_responses=True),
               "console": f"http://127.0.0.1:{INTAKE_PORT}"}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def say(sender: str, message: str) -> str:
    response = httpx.post(f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/webhook", json={"sender": sender, "message": message},
                          timeout=30)
    response.raise_for_status()
    return "\n".join(r.get("text") or "" for r in response.json())


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_an_unanswered_question_fixed_in_the_console_is_answered_by_the_assistant(walk: Dict[str, Any]) -> None:
    before = say(f"web-e2e-{uuid.uuid4().hex[:8]}", QUESTION)
    assert "business attire" not in before
    listed = [q for q in Funnel(walk["redis"]).unanswered() if q["text"] == QUESTION]
    assert listed, f"the question was not recorded as unanswered; the assistant said: {before!r}"

    with httpx.Client(base_url=walk["console"], headers={"Accept-Language": "zh-CN"}, follow_redirects=True) as console:
        form = console.get("/staff/login")
        console.post("/staff/login", data={"email": EDITOR, "password": PASSWORD, "csrf_token": _csrf(form.text)})
        dashboard = console.get("/staff/dashboard")
        assert "助手未能回答的问题" in dashboard.text and QUESTION in dashboard.text
        ref = listed[0]["ref"]
        assert f"/staff/knowledge/fix?question={ref}" in dashboard.text
        fact_form = console.get("/staff/knowledge/fact", params={"question": ref, "section": "events"})
        saved = console.post("/staff/knowledge/fact", data={
            "csrf_token": _csrf(fact_form.text), "mode": "new", "section": "events", "fact_id": "signing_dress_code",
            "en": ANSWER, "zh": "合伙人出席签约仪式请着商务正装，也欢迎穿着民族服装。",
            "new_source_title": "Program office (protocol note)", "new_source_date": "2026-03-01",
            "question": ref, "add_question": "yes"})
        assert saved.status_code == 200 and "已保存" in saved.text, saved.text[-2000:]

    deadline = time.monotonic() + 10  # the action server's store checks its files every second
    after = ""
    while time.monotonic() < deadline:
        after = say(f"web-e2e-{uuid.uuid4().hex[:8]}", QUESTION)
        if "business attire" in after:
            break
        time.sleep(0.5)
    assert ANSWER in after and "Program office (protocol note) (2026-03-01)" in after, after
    assert "signing_dress_code" not in (Path(DATA_DIR) / "facts" / "events.yml").read_text(encoding="utf-8")
