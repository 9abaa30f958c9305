"""`make eval`: intent macro-F1 and partner_category F1 per language on the held-out set, plus
test-story accuracy. Runs on Rasa's interpreter; prints a table, writes results/eval/."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from rasa.core.agent import Agent  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from bot.shared.program import load_knowledge  # noqa: E402
from bot.shared.program.answers import unknown_topics  # noqa: E402
from bot.shared.program.categories import CategoryMatcher  # noqa: E402
from bot.shared.program.contact import StaffContact  # noqa: E402
from bot.shared.program.knowledge import TOPIC_INTENT  # noqa: E402
from components.linear_intents import label_of  # noqa: E402

HELDOUT = {"en": ROOT / "tests/eval/heldout_en.yml", "zh": ROOT / "tests/eval/heldout_zh.yml"}
# Messages as people really write them (typos, slang, caps, mixed languages, emoji, long messages, personal
# data in a question), written apart from the training data and from the held-out set above.
EVERYDAY = {"en": ROOT / "tests/eval/everyday_en.yml", "zh": ROOT / "tests/eval/everyday_zh.yml"}
# Questions whose answer is one fact (or none), for the fact retrieval (actions/retrieval.py).
FACT_QUESTIONS = {"en": ROOT / "tests/eval/facts_en.yml", "zh": ROOT / "tests/eval/facts_zh.yml"}
OUT = ROOT / "results/eval"
ENTITY = "partner_category"


def gold_entities(example, matcher: CategoryMatcher) -> List[Tuple[str, str]]:
    found = []
    for entity in example.get("entities") or []:
        if entity["entity"] == ENTITY:
            value = entity.get("value")
            found.append((ENTITY, value if value in matcher.synonyms.values() else matcher.normalize(str(value)) or str(value)))
    return found


def predicted_label(parsed: Dict) -> str:
    name = parsed["intent"]["name"]
    topic = (parsed.get("topic") or {}).get("name")
    return f"{name}/{topic}" if name == TOPIC_INTENT and topic else name


def prf(tp: int, predicted: int, gold: int) -> Tuple[float, float, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


async def evaluate_language(agent: Agent, path: Path, matcher: CategoryMatcher, errors: List[str]) -> Dict[str, float]:
    data = load_data(str(path))
    y_true, y_pred = [], []
    tp = n_pred = n_gold = 0
    for example in data.intent_examples:
        parsed = await agent.parse_message(example.get("text"))
        y_true.append(label_of(example))  # ask_program/<topic> for a program question: topics count as intents
        y_pred.append(predicted_label(parsed))
        gold = Counter(gold_entities(example, matcher))
        pred = Counter((e["entity"], e["value"]) for e in parsed.get("entities", []) if e["entity"] == ENTITY)
        tp += sum((gold & pred).values())
        n_pred += sum(pred.values())
        n_gold += sum(gold.values())
        if y_true[-1] != y_pred[-1] or gold != pred:
            errors.append(
                f"{path.name}\t{example.get('text')}\tgold={y_true[-1]} {dict(gold)}\tpred={y_pred[-1]} "
                f"({parsed['intent']['confidence']:.2f}) {dict(pred)}"
            )
    labels = sorted(set(y_true))
    per_intent = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    _, _, entity_f1 = prf(tp, n_pred, n_gold)
    worst = sorted(zip(labels, per_intent, strict=True), key=lambda x: x[1])[:3]
    return {
        "examples": len(y_true),
        "intent_macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "intent_accuracy": sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(y_true),
        "fallback_rate": y_pred.count("nlu_fallback") / len(y_pred),
        "entity_f1": entity_f1,
        "entity_mentions": n_gold,
        "worst_intents": ", ".join(f"{name} {score:.2f}" for name, score in worst),
    }


def retrieval(path: Path, errors: List[str]) -> Dict[str, float]:
    """How often the fact retrieval answers with a right fact, and says nothing when no fact answers."""
    import yaml

    from actions.retrieval import index_for

    knowledge = load_knowledge()
    index = index_for(knowledge)
    contact = StaffContact(email="staff@example.org")
    answerable = right = wrong = top1 = 0
    unanswerable = silent = 0
    for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
        gold = set(item["answer"] if isinstance(item["answer"], list) else [item["answer"]])
        # As the assistant does: what the sources do not hold (unknowns.yml) is said so before any lookup
        hits = [] if unknown_topics(knowledge, item["q"], contact) else index.answer(item["q"])
        found = {f"{h.section}/{h.fact.id}" for h in hits}
        best = index.search(item["q"])[:1]
        if "none" in gold:
            unanswerable += 1
            silent += not hits
            if hits:
                errors.append(f"{path.name}\t{item['q']}\tgold=none\tanswered={sorted(found)}")
            continue
        answerable += 1
        top1 += bool(best) and f"{best[0].section}/{best[0].fact.id}" in gold
        if found & gold:
            right += 1
        elif hits:
            wrong += 1
        if not found & gold:
            errors.append(f"{path.name}\t{item['q']}\tgold={sorted(gold)}\tanswered={sorted(found)}")
    return {"answerable": answerable, "answered_right": right / answerable, "answered_wrong": wrong / answerable,
            "top1": top1 / answerable, "unanswerable": unanswerable, "silent_right": silent / max(1, unanswerable)}


def story_accuracy(model: str) -> Dict[str, float]:
    out = OUT / "stories"
    files = sorted((ROOT / "tests/stories").glob("*.yml"))
    total = sum(f.read_text(encoding="utf-8").count("- story:") for f in files)
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "test",
            "core",
            "--model",
            model,
            "--stories",
            str(ROOT / "tests/stories"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    failed_file = out / "failed_test_stories.yml"
    failed = failed_file.read_text(encoding="utf-8").count("- story:") if failed_file.exists() else 0
    report = json.loads((out / "story_report.json").read_text()) if (out / "story_report.json").exists() else {}
    return {"stories": total, "stories_passed": total - failed, "action_accuracy": float(report.get("accuracy", 0.0))}


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models/current.tar.gz"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    configure_logging_and_warnings(logging.ERROR, warn_only_once=True, filter_repeated_logs=True)
    configure_structlog(logging.ERROR)
    matcher = CategoryMatcher(load_knowledge())
    agent = Agent.load(args.model)
    errors: List[str] = []
    results = {lang: await evaluate_language(agent, path, matcher, errors) for lang, path in HELDOUT.items()}
    everyday = {lang: await evaluate_language(agent, path, matcher, errors) for lang, path in EVERYDAY.items()}
    facts = {lang: retrieval(path, errors) for lang, path in FACT_QUESTIONS.items()}
    stories = story_accuracy(args.model)
    (OUT / "errors.tsv").write_text("\n".join(errors) + "\n", encoding="utf-8")
    summary = {"nlu": results, "everyday": everyday, "retrieval": facts, "stories": stories}
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    print("\nHeld-out NLU evaluation (tests/eval/heldout_*.yml, not in the training data)")
    print(
        f"| language | examples | intent macro-F1 | intent accuracy | nlu_fallback | {ENTITY} F1 (mentions) | weakest intents |"
    )
    print("|---|---|---|---|---|---|---|")
    for lang, r in results.items():
        print(
            f"| {lang} | {r['examples']} | {r['intent_macro_f1']:.3f} | {r['intent_accuracy']:.3f} | {r['fallback_rate']:.1%} | "
            f"{r['entity_f1']:.3f} ({r['entity_mentions']}) | {r['worst_intents']} |"
        )
    print("\nEveryday writing (tests/eval/everyday_*.yml: typos, slang, caps, mixed languages, emoji, long messages)")
    print("| language | examples | intent macro-F1 | intent accuracy | nlu_fallback | weakest intents |")
    print("|---|---|---|---|---|---|")
    for lang, r in everyday.items():
        print(f"| {lang} | {r['examples']} | {r['intent_macro_f1']:.3f} | {r['intent_accuracy']:.3f} | "
              f"{r['fallback_rate']:.1%} | {r['worst_intents']} |")
    print("\nFact retrieval (tests/eval/facts_*.yml)")
    print("| language | answerable | answered with a right fact | with a wrong one | top-1 right | unanswerable | says nothing |")
    print("|---|---|---|---|---|---|---|")
    for lang, r in facts.items():
        print(f"| {lang} | {r['answerable']} | {r['answered_right']:.1%} | {r['answered_wrong']:.1%} | {r['top1']:.1%} | "
              f"{r['unanswerable']} | {r['silent_right']:.1%} |")
    print(
        f"\nTest stories (tests/stories): {stories['stories_passed']}/{stories['stories']} conversations passed, "
        f"action accuracy {stories['action_accuracy']:.3f}"
    )
    print(f"Misclassified examples: {OUT / 'errors.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
