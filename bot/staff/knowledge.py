"""Knowledge staff can fix: editors add or edit a fact (both languages, sources, a new source with its date) or add
a question as an NLU example to a topic, often straight from a question the assistant could not answer.

Every change is checked by the program data's own loader before anything is written (bot.shared.program.editing),
written atomically so the running assistant picks it up within a second (its KnowledgeStore reloads on change: no
restart, no retraining for facts), recorded with who, when and each file before and after (`knowledge_changes`),
audited (paths and ids, never texts), and can be reverted — refused when a later change touched the same file.
NLU examples only take effect when the model is next trained: they are queued, and the console says so.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.settings import settings
from bot.shared.program import default_store, editing
from bot.shared.program.editing import EditRefused, FileEdit
from bot.shared.program.knowledge import Knowledge, ProgramDataError, load_knowledge
from bot.staff.i18n import StaffError
from bot.staff.models import KnowledgeChange, StaffUser
from bot.staff.service import audit

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT_DIR = ROOT / "tests" / "eval"  # the evaluation sets: a question there must not become training data
KINDS = ("fact", "example", "revert")


def data_dir() -> Path:
    return Path(default_store.data_dir)


def nlu_dir() -> Path:
    return Path(settings().staff_nlu_dir or ROOT / "nlu")


def model_file() -> Path:
    return Path(settings().staff_model_file or ROOT / "models" / "current.tar.gz")


def roots() -> Dict[str, Path]:
    return {"data": data_dir(), "nlu": nlu_dir()}


def current_knowledge() -> Knowledge:
    """What the assistant serves now (the store reloads changed files)."""
    return default_store.current()


@contextmanager
def _locked() -> Iterator[None]:
    """One change at a time per data folder, across the web app's workers (read, check and write as one step)."""
    name = hashlib.sha256(str(data_dir().resolve()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"gzcp-knowledge-{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refused(error: EditRefused) -> StaffError:
    return StaffError(f"knowledge.error.{error.code}", **error.values)


def _fresh() -> Knowledge:
    try:
        return load_knowledge(data_dir())
    except ProgramDataError as error:  # someone broke a file by hand: say so rather than build on it
        raise StaffError("knowledge.error.data_check", detail=str(error)) from None


# --- the evaluation sets ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _held_out(directory: str, stamp: Tuple[Tuple[str, float], ...]) -> frozenset:
    texts: Set[str] = set()
    for name, _ in stamp:
        data = yaml.safe_load(Path(name).read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if isinstance(block, dict):
                texts.update(editing.plain(line[2:]) for line in str(block.get("examples") or "").splitlines()
                             if line.startswith("- "))
        for question in data.get("questions") or []:
            if isinstance(question, dict) and question.get("q"):
                texts.add(editing.plain(str(question["q"])))
    return frozenset(texts)


def held_out(text: str) -> bool:
    """Is this question in an evaluation set (tests/eval)? Training on it would spoil the measurement."""
    directory = Path(HELD_OUT_DIR)
    if not directory.is_dir():
        return False
    stamp = tuple((str(p), p.stat().st_mtime) for p in sorted(directory.glob("*.yml")))
    return editing.plain(text) in _held_out(str(directory), stamp)


# --- recording a change -------------------------------------------------------------------------------------


def _record(session: Session, actor: StaffUser, kind: str, target: str, summary: Dict[str, Any],
            edits: Sequence[FileEdit], revert_of: Optional[KnowledgeChange] = None) -> KnowledgeChange:
    """Write the files and record the change in one go: the row is flushed first, the files written, then commit;
    if the commit fails the files are put back."""
    change = KnowledgeChange(actor_id=actor.id, actor_email=actor.email, kind=kind, target=target[:200], summary=summary,
                             files=[e.to_dict() for e in edits], revert_of=revert_of.id if revert_of else None,
                             at=datetime.now(timezone.utc))
    session.add(change)
    session.flush()
    if revert_of is not None:
        revert_of.reverted_by = change.id
    audit(session, actor, f"knowledge.{kind}", "knowledge", str(change.id), target=change.target,
          files=[f"{e.root}/{e.path}" for e in edits], **({"revert_of": revert_of.id} if revert_of else {}))
    try:
        editing.apply(roots(), edits)
    except OSError:
        session.rollback()
        editing.apply(roots(), [e.reverse() for e in reversed(edits) if editing.current(roots(), e) == e.after])
        raise StaffError("knowledge.error.write") from None
    try:
        session.commit()
    except Exception:
        editing.apply(roots(), [e.reverse() for e in reversed(edits)])
        raise
    return change


def _check(edits: Sequence[FileEdit]) -> None:
    try:
        editing.validate(data_dir(), edits)
    except ProgramDataError as error:
        raise StaffError("knowledge.error.data_check", detail=str(error)) from None


# --- facts ----------------------------------------------------------------------------------------------


@dataclass
class FactForm:
    fact_id: str
    en: str
    zh: str
    sources: List[str] = field(default_factory=list)
    section: str = ""  # for a new fact
    new_source_title: str = ""
    new_source_date: str = ""
    question: Optional[Mapping[str, Any]] = None  # an unanswered question ({text, language}) to add to `asked`


def fact_for_form(fact_id: str) -> Optional[Dict[str, Any]]:
    """An existing fact's values as its file has them, with its section."""
    section = editing.find_fact(current_knowledge(), fact_id)
    data = editing.fact_data(data_dir(), section, fact_id) if section else None
    return {**data, "section": section} if data else None


def save_fact(session: Session, actor: StaffUser, form: FactForm, existing: bool) -> KnowledgeChange:
    """Add a new fact (existing=False) or change one; the unanswered question, if any, joins its `asked` examples."""
    with _locked():
        knowledge = _fresh()
        fact_id = editing.clean(form.fact_id)
        en, zh = editing.clean(form.en), editing.clean(form.zh)
        sources = list(dict.fromkeys(s for s in form.sources if s))
        edits: List[FileEdit] = []
        try:
            if existing:
                section = editing.find_fact(knowledge, fact_id)
                if section is None:
                    raise EditRefused("no_fact", "no such fact", fact=fact_id)
                before: Optional[Dict[str, Any]] = editing.fact_data(data_dir(), section, fact_id)
            else:
                section = form.section
                if section not in knowledge.facts:
                    raise EditRefused("bad_section", "no such section", section=section)
                if editing.find_fact(knowledge, fact_id) is not None:
                    raise EditRefused("id_taken", "a fact with this id exists", fact=fact_id)
                before = None
            known = set(knowledge.sources)
            new_source = None
            title, date = editing.clean(form.new_source_title), editing.clean(form.new_source_date)
            if title or date:
                editing.check_source(title, date)
                new_source = editing.next_source_key(knowledge)
                edits.append(editing.source_edit(data_dir(), new_source, title, date))
                sources.append(new_source)
                known.add(new_source)
            editing.check_fact_fields(fact_id, en, zh, sources, known)
            asked = {lang: list(qs) for lang, qs in ((before or {}).get("asked") or {}).items()}
            question_added = False
            if form.question:
                text, lang = editing.clean(form.question.get("text")), str(form.question.get("language") or "en")
                if held_out(text):
                    raise EditRefused("held_out", "the question is in an evaluation set")
                if text and editing.plain(text) not in {editing.plain(q) for q in asked.get(lang, [])}:
                    asked.setdefault(lang, []).append(text)
                    question_added = True
            after = {"id": fact_id, "en": en, "zh": zh, "sources": sources, "asked": asked}
            if before is not None and {**before, "asked": before.get("asked") or {}} == after:
                raise EditRefused("nothing_changed", "nothing changed")
            edits.append(editing.fact_edit(data_dir(), section, after, existing))
        except EditRefused as error:
            raise _refused(error) from None
        _check(edits)
        summary = {"section": section, "fact": fact_id, "before": before, "after": after, "source_added": new_source,
                   "question_added": question_added}
        return _record(session, actor, "fact", f"facts/{section}.yml#{fact_id}", summary, edits)


# --- NLU examples ----------------------------------------------------------------------------------------


def add_example(session: Session, actor: StaffUser, topic: str, language: str, text: str) -> KnowledgeChange:
    """Add a question as a training example of a topic (nlu/<language>/staff.yml), for the next training."""
    with _locked():
        knowledge = _fresh()
        try:
            if topic not in knowledge.topics:
                raise EditRefused("bad_topic", "no such topic", topic=topic)
            if language not in ("en", "zh"):
                raise EditRefused("bad_language", "the language is en or zh")
            example = editing.check_example(text, language)
            owner = editing.example_owner(nlu_dir(), example)
            if owner == f"{editing.TOPIC_INTENT}/{topic}":
                raise EditRefused("example_exists", "already an example of this topic")
            if owner is not None:
                raise EditRefused("example_other", "already an example of another intent", label=owner)
            if held_out(example):
                raise EditRefused("held_out", "the question is in an evaluation set")
            edit = editing.example_edit(nlu_dir(), language, topic, example)
        except EditRefused as error:
            raise _refused(error) from None
        summary = {"topic": topic, "language": language, "before": None, "after": example}
        return _record(session, actor, "example", f"nlu/{edit.path}#{topic}", summary, [edit])


# --- history and revert ---------------------------------------------------------------------------------


def changes(session: Session, limit: int = 100) -> List[KnowledgeChange]:
    return list(session.scalars(select(KnowledgeChange).order_by(KnowledgeChange.id.desc()).limit(limit)))


def get_change(session: Session, change_id: int) -> Optional[KnowledgeChange]:
    return session.get(KnowledgeChange, change_id)


def revert(session: Session, actor: StaffUser, change: KnowledgeChange) -> KnowledgeChange:
    """Put the files back as they were before `change` (itself a change, which can be reverted in turn)."""
    with _locked():
        if change.reverted_by is not None:
            raise StaffError("knowledge.error.already_reverted", id=change.reverted_by)
        edits = [FileEdit.from_dict(f).reverse() for f in reversed(change.files)]
        moved = editing.stale(roots(), edits)
        if moved:
            raise StaffError("knowledge.error.stale", files=", ".join(moved))
        _check(edits)
        summary = {**{k: v for k, v in (change.summary or {}).items() if k not in ("before", "after")},
                   "before": (change.summary or {}).get("after"), "after": (change.summary or {}).get("before"),
                   "reverted_kind": change.kind if change.kind != "revert" else (change.summary or {}).get("reverted_kind")}
        return _record(session, actor, "revert", change.target, summary, edits, revert_of=change)


def touches_training(change: KnowledgeChange) -> bool:
    return any(f.get("root") == "nlu" for f in change.files or [])


@dataclass(frozen=True)
class TrainingState:
    trained_at: Optional[datetime]  # when the model in use was built (None: no model)
    queued: int  # NLU changes made since then


def training_state(session: Session) -> TrainingState:
    try:
        trained_at: Optional[datetime] = datetime.fromtimestamp(model_file().resolve().stat().st_mtime, timezone.utc)
    except OSError:
        trained_at = None
    rows = [c for c in changes(session, 1000) if touches_training(c)]
    queued = [c for c in rows if trained_at is None or c.at > trained_at]
    return TrainingState(trained_at=trained_at, queued=len(queued))


def is_queued(change: KnowledgeChange, state: TrainingState) -> bool:
    return touches_training(change) and (state.trained_at is None or change.at > state.trained_at)
