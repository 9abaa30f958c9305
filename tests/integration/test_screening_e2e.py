"""Screening over the REST webhook with everything real: Rasa, the action server, Redis, the delivery
worker and the intake service (uvicorn + SQLite). Personas in both languages; the intake is stopped in
the middle of a batch and every lead must still arrive exactly once; deletion; logs without contact data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import pytest
from sqlalchemy import create_engine, text

from bot.shared.outbox import Outbox
from bot.shared.program.screening_data import load_screening
from bot.shared.redis_conn import conversation_keys, env_for_db
from tests.conftest import ROOT
from tests.integration.conftest import INTAKE_KEY, INTAKE_PORT, Stack, _wait

DATA = load_screening()
Answer = Union[str, List[str]]


class Intake:
    """The web app on the intake port and the delivery worker, each startable and stoppable."""

    def __init__(self, workdir: Path, redis_db: int) -> None:
        self.db_url = f"sqlite:///{workdir / 'leads.db'}"
        self.logs = workdir
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.db_url, "INTAKE_API_KEY": INTAKE_KEY,
                    "INTAKE_URL": f"http://127.0.0.1:{INTAKE_PORT}", **env_for_db(os.environ, redis_db)}
        self.app: Optional[subprocess.Popen] = None
        self.worker: Optional[subprocess.Popen] = None
        subprocess.run([sys.executable, "-m", "bot.db", "upgrade"], env=self.env, cwd=ROOT, check=True,
                       capture_output=True)
        self.engine = create_engine(self.db_url)

    def start(self) -> None:
        log = self.logs / "app.log"
        self.app = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bot.main:app", "--host", "127.0.0.1", "--port", str(INTAKE_PORT)],
            env=self.env, cwd=ROOT, stdout=log.open("a"), stderr=subprocess.STDOUT)
        _wait(f"http://127.0.0.1:{INTAKE_PORT}/healthz", self.app, log, 60)

    def stop(self) -> None:
        if self.app is not None:
            self.app.terminate()
            self.app.wait(20)
            self.app = None

    def start_worker(self) -> None:
        self.worker = subprocess.Popen([sys.executable, "-m", "bot.leads.delivery", "run"], env=self.env, cwd=ROOT,
                                       stdout=(self.logs / "delivery.log").open("a"), stderr=subprocess.STDOUT)

    def close(self) -> None:
        self.stop()
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(20)
        self.engine.dispose()

    def leads(self, conversation_id: str) -> List[Dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(text("SELECT kind, category, qualified, email, phone, channel, language, "
                                           "transcript FROM leads WHERE conversation_id = :c"), {"c": conversation_id})
            return [{**row._mapping, "transcript": json.loads(row.transcript)} for row in rows]


@pytest.fixture(scope="module")
def intake(stack: Stack, tmp_path_factory) -> Iterator[Intake]:
    outbox = Outbox(stack.redis)
    for key in stack.redis.scan_iter(f"{outbox.base}:*"):
        stack.redis.delete(key)
    service = Intake(tmp_path_factory.mktemp("intake"), int(stack.redis.connection_pool.connection_kwargs["db"]))
    service.start()
    service.start_worker()
    yield service
    service.close()


# --- driving a conversation by what the assistant asks ---------------------------------------------
def _question_texts() -> Dict[str, str]:
    known = {}
    for key, question in DATA.questions.items():
        for wording in (question.wording, question.individual):
            for language in ("en", "zh"):
                if wording is not None and wording.ask is not None:
                    known[wording.ask.get(language)] = key
    for language in ("en", "zh"):
        known[DATA.notice.lines[-1].get(language)] = "consent"
        known[DATA.messages["summary_question"].get(language)] = "confirmed"
        known[DATA.messages["which_edit"].get(language)] = "which_edit"
    return known


QUESTION_TEXTS = _question_texts()


def question_in(replies: List[Dict[str, Any]]) -> Optional[str]:
    for reply in reversed(replies):
        for known, key in QUESTION_TEXTS.items():
            if known in (reply.get("text") or ""):
                return key
    return None


def screen(stack: Stack, sender: str, persona: Dict[str, Answer], opening: str) -> List[Dict[str, Any]]:
    """Answer every question the assistant asks from `persona` (a list answers the same question in turn)."""
    seen: List[Dict[str, Any]] = [{"text": f"USER: {opening}"}]
    replies = stack.say(sender, opening)
    for _ in range(40):
        seen += replies
        question = question_in(replies)
        if question is None:
            return seen
        answer = persona[question]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        seen.append({"text": f"USER: {answer}"})
        replies = stack.say(sender, answer)
    raise AssertionError(f"the screening of {sender} never ended:\n" + texts(seen[-30:]))


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def wait_until(condition, seconds: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def company_en(email: str) -> Dict[str, Answer]:
    return {"org_type": "We are a Fortune 500 firm", "org_name": "Siemens AG", "country": "Germany",
            "employees": "about 300,000 people", "industry": "industrial automation and software",
            "guangzhou_presence": "we plan to open an office next year", "contribution": "an R&D centre for robotics",
            "contact_person": "Anna Schmidt", "email": email, "phone": "+49 30 1234567", "consent": "yes",
            "confirmed": "Send"}


# --- personas --------------------------------------------------------------------------------------
def test_english_company_with_a_mid_form_question_bad_email_and_bad_phone(stack: Stack, intake: Intake) -> None:
    sender = f"persona-{uuid.uuid4()}"
    persona = company_en("anna.schmidt@siemens-example.com")
    persona["org_name"] = ["what benefits do super partners get?", "Siemens AG"]
    persona["email"] = ["anna at siemens", "anna@siemens", "anna.schmidt@siemens-example.com"]
    persona["phone"] = ["12345", "+49 30 1234567"]
    seen = screen(stack, sender, persona, "we'd like to join the program")
    transcript = texts(seen)
    assert "Canton Fair" in transcript or "benefit" in transcript.lower()  # the question was answered mid-form
    assert transcript.count("valid email") == 2 and "giving you trouble" in transcript
    assert "valid phone number" in transcript
    assert "Strategic partner" in transcript and "on their way" in transcript
    wait_until(lambda: len(intake.leads(sender)) == 1, what="the lead")
    [lead] = intake.leads(sender)
    assert lead["category"] == "strategic_partner" and lead["qualified"]
    assert lead["email"] == "anna.schmidt@siemens-example.com" and lead["phone"] == "+49301234567"
    assert lead["channel"] == "rest" and lead["language"] == "en"
    # Staff read the whole conversation, though each turn read only its last events (a window of 16 here).
    said = [item["text"] for item in seen if item.get("text", "").startswith("USER: ")]
    assert [f"USER: {t['text']}" for t in lead["transcript"] if t["sender"] == "user"] == said


def test_chinese_startup_pressing_buttons_is_a_city_dreamer(stack: Stack, intake: Intake) -> None:
    sender = f"web-{uuid.uuid4()}"
    persona = {"org_type": '/inform{"choice":"enterprise"}', "org_name": "广州智造科技有限公司", "country": "中国",
               "credentials": '/inform{"choice":"none"}', "employees": "二十人左右", "industry": "工业机器人",
               "guangzhou_presence": '/inform{"choice":"present"}', "contribution": "希望在广州建立研发中心",
               "contact_person": "张伟", "email": "zhang.wei@example.cn", "phone": "跳过",
               "consent": '/inform{"choice":"yes"}', "confirmed": '/inform{"choice":"send"}'}
    seen = screen(stack, sender, persona, "我们想成为城市合伙人")
    assert "城市梦想家" in texts(seen) and "谢谢" in texts(seen)
    wait_until(lambda: len(intake.leads(sender)) == 1, what="the lead")
    [lead] = intake.leads(sender)
    assert lead["category"] == "city_dreamer" and lead["channel"] == "web" and lead["language"] == "zh"
    assert lead["phone"] is None


def test_a_student_looking_for_a_job_is_told_why_and_nothing_is_stored(stack: Stack, intake: Intake) -> None:
    sender = f"persona-{uuid.uuid4()}"
    persona = {"org_type": "I'm an individual", "org_name": "Li Ming", "country": "China", "field": "education",
               "achievement": "I'm a student looking for a job", "promotion": "skip", "guangzhou_presence": "no",
               "contribution": "I would like to find a job in Guangzhou"}
    offer = stack.say(sender, "which category would suit me?")  # what decides it, and the screening offered
    assert "depends on who you are" in texts(offer) and "/apply" in str(offer)
    seen = screen(stack, sender, persona, "yes")
    assert "nothing is stored" in texts(seen)
    time.sleep(1)
    assert intake.leads(sender) == []


def test_refused_consent_stores_nothing(stack: Stack, intake: Intake) -> None:
    sender = f"persona-{uuid.uuid4()}"
    persona = {"org_type": "企业", "org_name": "深圳某电池公司", "country": "中国", "credentials": "中国民营企业500强",
               "employees": "3千人", "industry": "新能源电池", "guangzhou_presence": "计划落地广州",
               "contribution": "投资建设储能工厂", "contact_person": "李娜", "email": "li.na@example.cn",
               "phone": "13800138000", "consent": "不同意"}
    seen = screen(stack, sender, persona, "我们想加入城市合伙人计划")
    assert "超级合伙人" in texts(seen) and "未经您的同意" in texts(seen)
    time.sleep(1)
    assert intake.leads(sender) == []


def test_a_correction_and_an_edit_from_the_summary(stack: Stack, intake: Intake) -> None:
    sender = f"persona-{uuid.uuid4()}"
    persona = company_en("old@siemens-example.com")
    persona["phone"] = ["actually our email is new@siemens-example.com", "skip"]
    persona["confirmed"] = ["change the country", "Send"]
    persona["country"] = ["Germany", "Austria"]
    seen = screen(stack, sender, persona, "we want to become a city partner")
    assert "new@siemens-example.com" in texts(seen) and "Austria" in texts(seen)
    wait_until(lambda: len(intake.leads(sender)) == 1, what="the lead")
    assert intake.leads(sender)[0]["email"] == "new@siemens-example.com"


def test_stop_mid_form_and_deletion_of_a_stored_lead(stack: Stack, intake: Intake) -> None:
    sender = f"persona-{uuid.uuid4()}"
    stack.say(sender, "we'd like to join")
    assert "Stopped" in texts(stack.say(sender, "stop"))
    screen(stack, sender, company_en("erase.me@siemens-example.com"), "we'd like to join")
    wait_until(lambda: len(intake.leads(sender)) == 1, what="the lead")
    reply = texts(stack.say(sender, "please delete my data"))
    assert "deleted 1 stored record" in reply
    assert intake.leads(sender) == []
    wait_until(lambda: not stack.redis.exists(f"gzcp:tracker:{sender}"), 10, "the conversation's erasure")
    # Nothing the person gave is left anywhere: Redis (every key and value), the intake's database (every
    # table), and the logs of every process.
    given = ("erase.me@siemens-example.com", "erase.me")  # unique to this person (other tests share the phone)
    redis_text = everything_in_redis(stack.redis)
    assert not [g for g in given if g in redis_text]
    assert not stack.redis.exists(*conversation_keys(sender).all)
    with intake.engine.connect() as db:
        tables = [row[0] for row in db.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        database_text = "".join(str(row) for table in tables for row in db.execute(text(f'SELECT * FROM "{table}"')))
    assert not [g for g in given if g in database_text]
    assert '"erase"' in database_text or "'erase'" in database_text  # the erasure itself is in the audit log
    logged = "".join((stack.logs / name).read_text() for name in ("rasa.log", "actions.log"))
    logged += "".join(p.read_text() for p in intake.logs.glob("*.log"))
    assert not [g for g in given if g in logged]


def everything_in_redis(client: Any) -> str:
    """Every key and value of the test database as one text, to search for personal data."""
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        parts.append(key.decode(errors="replace"))
        if kind == "string":
            parts.append((client.get(key) or b"").decode(errors="replace"))
        elif kind == "list":
            parts += [v.decode(errors="replace") for v in client.lrange(key, 0, -1)]
        elif kind == "hash":
            parts += [f"{k.decode(errors='replace')}={v.decode(errors='replace')}" for k, v in client.hgetall(key).items()]
        elif kind in ("set", "zset"):
            members = client.smembers(key) if kind == "set" else client.zrange(key, 0, -1)
            parts += [m.decode(errors="replace") for m in members]
        elif kind == "stream":
            parts += [str(entry) for entry in client.xrange(key)]
    return "\n".join(parts)


def test_every_lead_arrives_exactly_once_when_the_intake_stops_mid_batch(stack: Stack, intake: Intake) -> None:
    senders = [f"batch-{i}-{uuid.uuid4()}" for i in range(6)]
    outbox = Outbox(stack.redis)
    for i, sender in enumerate(senders):
        if i == 2:
            intake.stop()
        reply = texts(screen(stack, sender, company_en(f"batch{i}@siemens-example.com"), "we'd like to join"))
        assert "on their way" in reply  # the user is never kept waiting on the intake
    assert outbox.stats()["pending"] >= 4
    intake.start()
    wait_until(lambda: outbox.stats()["pending"] == 0, 120, "the outbox to drain")
    for sender in senders:
        assert len(intake.leads(sender)) == 1, sender
    assert outbox.stats()["dead"] == 0


def test_logs_hold_no_contact_details(stack: Stack, intake: Intake) -> None:
    logged = "".join((stack.logs / name).read_text() for name in ("rasa.log", "actions.log"))
    logged += "".join(p.read_text() for p in intake.logs.glob("*.log"))
    for secret in ("anna.schmidt@siemens-example.com", "zhang.wei@example.cn", "+49301234567", "13800138000"):
        assert secret not in logged
