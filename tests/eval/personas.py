"""`make eval` (second part): screening personas driven through the real /api/chat as a person would.

The whole product runs as separate processes (tests/integration/cluster.py: Redis, a Rasa server, the
action server, the web app as gateway and intake, the delivery worker, SQLite). Each persona of
tests/eval/personas.yml (written apart from the training data; `expect` decided from the category
definitions alone) says its opening, then answers what it is asked: it presses the button whose title
matches its answer, otherwise types the answer; it accepts an offered screening; it asks its mid-form
questions and makes its corrections where the persona says. Afterwards the lead stored in the database
(or its absence) is compared with `expect`: category and qualification for a lead, the review mark for a
profile staff should judge, nothing at all when nothing should be stored.

    python -m tests.eval.personas [--only ID] [--keep]      # prints a table, writes results/eval/personas.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import httpx
import yaml
from sqlalchemy import text

from bot.chat import identity
from tests.conftest import ROOT
from tests.integration.cluster import Cluster
from tests.integration.test_screening_e2e import question_in

PERSONAS = ROOT / "tests/eval/personas.yml"
OUT = ROOT / "results/eval"
MAX_TURNS = 45


@dataclass
class Outcome:
    id: str
    language: str
    expected: Dict[str, Any]
    sender: str = ""
    stored: str = "none"  # lead, review or none
    category: Optional[str] = None
    qualified: Optional[bool] = None
    asked: List[str] = field(default_factory=list)
    empty_replies: int = 0
    transcript: List[str] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        want = self.expected
        if self.error or self.empty_replies or self.stored != want["stored"]:
            return False
        if want["stored"] == "lead":
            return self.category == want["category"] and bool(self.qualified) == bool(want["qualified"])
        return True


def _norm(value: str) -> str:
    return re.sub(r"[\s\W_]+", "", value.lower())


def choose(answer: str, buttons: List[Dict[str, str]]) -> Optional[str]:
    """The payload of the button a person would press for this answer (its title in the answer, or the answer
    in its title); None to type it instead."""
    said = _norm(answer)
    if not said:
        return None
    for button in buttons:
        title = _norm(button.get("title", ""))
        if title and (title == said or (len(said) >= 4 and said in title) or (len(title) >= 4 and title in said)):
            return button["payload"]
    return None


class Person:
    def __init__(self, gateway: str, persona: Dict[str, Any]) -> None:
        self.url = f"{gateway}/api/chat"
        self.p = persona
        self.session = identity.issue_token()  # as the widget holds it after its first request
        self.http = httpx.Client(timeout=60, headers={identity.HEADER: self.session})
        self.out = Outcome(persona["id"], persona["language"], persona["expect"],
                           sender=f"web-{identity.conversation_of(self.session)}")

    def say(self, message: str) -> List[Dict[str, Any]]:
        self.out.transcript.append(f"USER: {message}")
        for _ in range(5):
            response = self.http.post(self.url, json={"message": message, "lang": self.p["language"]})
            if response.status_code == 200:
                replies = response.json()["messages"]
                if not replies:
                    self.out.empty_replies += 1
                self.out.transcript += [f"BOT: {r['text']}" for r in replies]
                return replies
            time.sleep(1.0)  # the polite 503: try again like a person
        raise RuntimeError(f"no answer to {message!r}: {response.status_code} {response.text[:200]}")

    def run(self) -> Outcome:
        replies = self.say(self.p["opening"])
        extras = {e["after"]: e["say"] for e in self.p.get("extra") or []}
        for _ in range(MAX_TURNS):
            question = question_in(replies)
            buttons = [b for r in replies for b in r.get("buttons") or []]
            if question is None:
                offer = next((b["payload"] for b in buttons if b["payload"] == "/apply"), None)
                if offer and not self.out.asked:  # the screening is offered: a prospective partner takes it
                    replies = self.say(offer)
                    continue
                return self.out
            self.out.asked.append(question)
            if question in extras:  # a question or a correction, then the answer to what was asked
                replies = self.say(extras.pop(question))
                if question_in(replies) != question:
                    continue
                buttons = [b for r in replies for b in r.get("buttons") or []]
            answer = str(self.p["answers"].get(question, "skip"))
            replies = self.say(choose(answer, buttons) or answer)
        self.out.error = f"the screening never ended; asked {self.out.asked}"
        return self.out


def stored(cluster: Cluster, sender: str) -> Tuple[str, Optional[str], Optional[bool]]:
    with cluster.engine.connect() as connection:
        rows = connection.execute(text("SELECT category, qualified, review FROM leads WHERE conversation_id = :c "
                                       "AND kind = 'lead'"), {"c": sender}).all()
    if not rows:
        return "none", None, None
    category, qualified, review = rows[-1]
    return ("review" if review and not qualified else "lead"), category, bool(qualified)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run one persona by id")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's logs and database")
    args = parser.parse_args(argv)
    personas = yaml.safe_load(PERSONAS.read_text(encoding="utf-8"))["personas"]
    if args.only:
        personas = [p for p in personas if p["id"] == args.only]
    workdir = Path(tempfile.mkdtemp(prefix="personas-"))
    cluster = Cluster(workdir, replicas=1, base=16600)
    outcomes: List[Outcome] = []
    try:
        cluster.start()
        client = cluster.client()
        for persona in personas:
            person = Person(cluster.gateway_url, persona)
            try:
                outcome = person.run()
            except Exception as error:  # noqa: BLE001 - one persona's failure is reported, the rest still run
                outcome = person.out
                outcome.error = f"{type(error).__name__}: {error}"
            outcomes.append(outcome)
        deadline = time.monotonic() + 60
        while client.zcard("gzcp:outbox:due") and time.monotonic() < deadline:
            time.sleep(0.5)
        for outcome in outcomes:
            outcome.stored, outcome.category, outcome.qualified = stored(cluster, outcome.sender)
    finally:
        cluster.close()
    report(outcomes)
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(outcomes: List[Outcome]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "personas.json").write_text(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=2),
                                       encoding="utf-8")
    print("\nScreening personas (tests/eval/personas.yml) through /api/chat; stored leads checked in the database")
    print("| persona | expected | stored | category | questions | result |")
    print("|---|---|---|---|---|---|")
    for o in outcomes:
        want = f"{o.expected['stored']} {o.expected.get('category') or ''}".strip()
        got = f"{o.stored} {o.category or ''}".strip()
        print(f"| {o.id} | {want} | {got} | {'qualified' if o.qualified else '-'} | {len(o.asked)} | "
              f"{'ok' if o.passed else 'FAIL ' + o.error[:60]} |")
    for lang in ("en", "zh"):
        mine = [o for o in outcomes if o.language == lang]
        print(f"{lang}: {sum(o.passed for o in mine)}/{len(mine)} personas placed as expected; "
              f"empty replies: {sum(o.empty_replies for o in mine)}")


if __name__ == "__main__":
    sys.exit(main())
