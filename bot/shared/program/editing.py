"""Changing the program data from code (the staff console's knowledge editor): a fact, a source, an NLU example.

Edits are made on the files' text, one entry at a time, so the comments and layout of everything else stay as the
authors wrote them: a fact is the block from its `- id:` line to the next entry; a source is appended to
sources.yml; staff's NLU examples live in a file of their own (nlu/<lang>/staff.yml). Each edit is a FileEdit
(the file's text before and after), checked by the loader itself on a scratch copy of the data (`validate`: the
same checks as `make check-data`) before `apply` writes it atomically (a temporary file renamed over the old
one), so the running assistant (KnowledgeStore) only ever reads a whole, valid file and picks it up within a
second. Plain Python 3.10+ and PyYAML: both runtimes may import it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import yaml

from bot.shared.program.knowledge import (
    DATA_FILES,
    FACTS_DIR,
    LANGUAGES,
    TOPIC_INTENT,
    Knowledge,
    ProgramDataError,
    load_knowledge,
)
from bot.shared.program.language import _CJK

FACT_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
SOURCE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
STAFF_NLU_FILE = "staff.yml"
MAX_TEXT = 2000
MAX_QUESTION = 500
_ENTRY = re.compile(r"^(?P<indent>[ ]*)-[ ]+id:[ ]*(?P<q>['\"]?)(?P<id>[^'\"\s#]+)(?P=q)[ ]*(#.*)?$")
_NLU_HEADER = (
    "# NLU examples added by program staff in the console (Knowledge -> add as an example). Written by\n"
    "# bot/shared/program/editing.py: edit it there, or by hand like any other training file. Used from the next\n"
    "# training on (`make model` / `make run` retrain when a file under nlu/ changed).\n"
)


class EditRefused(ValueError):
    """A change that cannot be made: `code` names the problem (the console words it), `values` its details."""

    def __init__(self, code: str, message: str, **values: Any) -> None:
        self.code, self.values = code, values
        super().__init__(message)


@dataclass(frozen=True)
class FileEdit:
    root: str  # "data" (the program data folder) or "nlu" (the NLU training folder)
    path: str  # relative to its root, with forward slashes: "facts/benefits.yml", "zh/staff.yml"
    before: Optional[str]  # None: the file did not exist
    after: Optional[str]  # None: the file is removed

    def to_dict(self) -> Dict[str, Any]:
        return {"root": self.root, "path": self.path, "before": self.before, "after": self.after}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileEdit:
        return cls(str(data["root"]), str(data["path"]), data.get("before"), data.get("after"))

    def reverse(self) -> FileEdit:
        return FileEdit(self.root, self.path, self.after, self.before)


def clean(text: Any) -> str:
    """Form text as the loader reads it: whitespace runs (newlines too) become one space."""
    return " ".join(str(text or "").split())


def _scalar(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: any character, safely escaped.
    return json.dumps(value, ensure_ascii=False)


def _flow(values: Sequence[str]) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# --- facts and sources ----------------------------------------------------------------------------------


def render_fact(fact: Mapping[str, Any], indent: int = 2) -> str:
    """One fact as a YAML list entry (id, en, zh, sources, asked), indented like the shipped files."""
    pad, inner = " " * indent, " " * (indent + 2)
    lines = [f"{pad}- id: {fact['id']}", f"{inner}en: {_scalar(fact['en'])}", f"{inner}zh: {_scalar(fact['zh'])}",
             f"{inner}sources: {_flow(fact['sources'])}"]
    asked = {lang: list(qs) for lang, qs in (fact.get("asked") or {}).items() if qs}
    if asked:
        lines.append(f"{inner}asked:")
        lines.extend(f"{inner}  {lang}: {_flow(asked[lang])}" for lang in LANGUAGES if lang in asked)
    return "\n".join(lines) + "\n"


def find_fact(knowledge: Knowledge, fact_id: str) -> Optional[str]:
    """The section (facts file) holding `fact_id`, or None."""
    return next((section for section, facts in knowledge.facts.items() if any(f.id == fact_id for f in facts)), None)


def fact_data(data_dir: Path, section: str, fact_id: str) -> Optional[Dict[str, Any]]:
    """A fact as its file has it (plain values), or None."""
    text = read_text(Path(data_dir) / FACTS_DIR / f"{section}.yml")
    if text is None:
        return None
    for node in (yaml.safe_load(text) or {}).get("facts") or []:
        if isinstance(node, dict) and str(node.get("id")) == fact_id:
            return {"id": fact_id, "en": clean(node.get("en")), "zh": clean(node.get("zh")),
                    "sources": [str(s) for s in node.get("sources") or []],
                    "asked": {str(k): [clean(q) for q in v] for k, v in (node.get("asked") or {}).items()}}
    return None


def _replace_entry(text: str, fact_id: str, entry: str) -> str:
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if (m := _ENTRY.match(line.rstrip("\n"))) and m["id"] == fact_id), None)
    if start is None:
        raise EditRefused("no_fact", f"no fact {fact_id!r} in this file", fact=fact_id)
    indent = len(_ENTRY.match(lines[start].rstrip("\n"))["indent"])  # type: ignore[index]
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and len(lines[end]) - len(lines[end].lstrip(" ")) <= indent:
            break
        end += 1
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].strip().startswith("#")):
        end -= 1  # blank lines and comments before the next entry belong to it
    return "".join(lines[:start]) + render_fact_with_indent(entry, indent) + "".join(lines[end:])


def render_fact_with_indent(entry: str, indent: int) -> str:
    return entry if indent == 2 else "".join(" " * (indent - 2) + line if line.strip() else line
                                             for line in entry.splitlines(keepends=True))


def fact_edit(data_dir: Path, section: str, fact: Mapping[str, Any], existing: bool) -> FileEdit:
    """The facts file with `fact` replacing its old entry (existing) or appended at the end (new)."""
    path = f"{FACTS_DIR}/{section}.yml"
    before = read_text(Path(data_dir) / path)
    if before is None:
        raise EditRefused("bad_section", f"no facts section {section!r}", section=section)
    entry = render_fact(fact)
    if existing:
        after = _replace_entry(before, str(fact["id"]), entry)
    else:
        after = before + ("" if before.endswith("\n") else "\n") + entry
    return FileEdit("data", path, before, after)


def next_source_key(knowledge: Knowledge, prefix: str = "staff-") -> str:
    taken = {key for key in knowledge.sources if key.startswith(prefix)}
    n = 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


def source_edit(data_dir: Path, key: str, title: str, date: str) -> FileEdit:
    """sources.yml with a new source appended to its `sources:` mapping (the last top-level key in the file)."""
    before = read_text(Path(data_dir) / "sources.yml") or ""
    data = yaml.safe_load(before) or {}
    if list(data)[-1:] != ["sources"]:
        raise ProgramDataError("sources.yml: `sources` must be the last top-level key for the console to append to it")
    entry = f"  {key}:\n    title: {_scalar(title)}\n    date: {_scalar(date)}\n"
    return FileEdit("data", "sources.yml", before, before + ("" if before.endswith("\n") else "\n") + entry)


def check_fact_fields(fact_id: str, en: str, zh: str, sources: Sequence[str], known_sources: Iterable[str]) -> None:
    """The checks worth a clear word before the loader's: id, both texts, Chinese in Chinese, known sources."""
    if not FACT_ID.match(fact_id):
        raise EditRefused("bad_id", "a fact id is lowercase letters, digits and _ (2-63 characters)", fact=fact_id)
    for lang, text in (("en", en), ("zh", zh)):
        if not text:
            raise EditRefused(f"missing_{lang}", f"the {lang} text is missing")
        if len(text) > MAX_TEXT:
            raise EditRefused("too_long", f"a text has at most {MAX_TEXT} characters", n=MAX_TEXT)
        if "\x00" in text:
            raise EditRefused("nul", "texts may not contain NUL characters")
    if not _CJK.search(zh):
        raise EditRefused("zh_not_chinese", "the Chinese text has no Chinese characters")
    if not sources:
        raise EditRefused("no_source", "a fact needs at least one source")
    unknown = [s for s in sources if s not in set(known_sources)]
    if unknown:
        raise EditRefused("unknown_source", f"unknown source(s) {', '.join(unknown)}", sources=", ".join(unknown))


def check_source(title: str, date: str) -> None:
    if not title:
        raise EditRefused("source_title_needed", "a new source needs a title")
    if "\x00" in title or len(title) > 300:
        raise EditRefused("source_title_bad", "a source title has at most 300 characters and no NUL")
    if not SOURCE_DATE.match(date or ""):
        raise EditRefused("source_date_format", "a source's date looks like 2025, 2025-02 or 2025-02-10")


# --- NLU examples ----------------------------------------------------------------------------------------


def _nlu_blocks(path: Path) -> List[Dict[str, Any]]:
    text = read_text(path)
    if text is None:
        return []
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ProgramDataError(f"{path.name}: not valid YAML: {error}") from None
    return [b for b in data.get("nlu") or [] if isinstance(b, dict) and "intent" in b]


def _lines(block: Mapping[str, Any]) -> List[str]:
    return [line[2:].strip() for line in str(block.get("examples") or "").splitlines() if line.startswith("- ")]


_ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")


def plain(example: str) -> str:
    """An example as the training-data checks compare them: annotations dropped, lower case."""
    return _ANNOTATION.sub(r"\1", example).strip().lower()


def example_owner(nlu_dir: Path, example: str) -> Optional[str]:
    """The label ("ask_program/benefits", "greet") an example already has in any training file, or None."""
    wanted = plain(example)
    for path in sorted(Path(nlu_dir).glob("*/*.yml")):
        for block in _nlu_blocks(path):
            topic = (block.get("metadata") or {}).get("topic")
            label = f"{block['intent']}/{topic}" if topic else str(block["intent"])
            if any(plain(line) == wanted for line in _lines(block)):
                return label
    return None


def render_nlu(blocks: Mapping[str, Sequence[str]]) -> str:
    """The staff examples file: one ask_program block per topic, in topic order of first use."""
    out = [_NLU_HEADER, 'version: "3.1"\n', "nlu:\n"]
    for topic, examples in blocks.items():
        out.append(f"- intent: {TOPIC_INTENT}\n  metadata: {{topic: {topic}}}\n  examples: |\n")
        out.extend(f"    - {example}\n" for example in examples)
    return "".join(out)


def example_edit(nlu_dir: Path, language: str, topic: str, example: str) -> FileEdit:
    """nlu/<language>/staff.yml with `example` added to `topic` (the file is made when missing)."""
    path = Path(nlu_dir) / language / STAFF_NLU_FILE
    before = read_text(path)
    blocks: Dict[str, List[str]] = {}
    for block in _nlu_blocks(path):
        key = str((block.get("metadata") or {}).get("topic") or "")
        blocks.setdefault(key, []).extend(_lines(block))
    blocks.setdefault(topic, []).append(example)
    return FileEdit("nlu", f"{language}/{STAFF_NLU_FILE}", before, render_nlu(blocks))


def check_example(example: str, language: str) -> str:
    example = clean(example)
    if not example:
        raise EditRefused("example_empty", "the example is empty")
    if len(example) > MAX_QUESTION or "\x00" in example:
        raise EditRefused("example_long", f"an example has at most {MAX_QUESTION} characters", n=MAX_QUESTION)
    if re.search(r"[\[\]{}()]", example) or example.startswith(("-", "#", "/")):
        # Brackets are entity annotations in Rasa's format; a leading "/" is a button payload.
        raise EditRefused("example_chars", "an example may not contain [ ] { } ( ) or start with - # /")
    if language == "zh" and not _CJK.search(example):
        raise EditRefused("example_not_chinese", "a Chinese example needs Chinese characters")
    return example


# --- checking and writing ----------------------------------------------------------------------------------


def _root(roots: Mapping[str, Path], edit: FileEdit) -> Path:
    return Path(roots[edit.root]) / edit.path


def validate(data_dir: Path, edits: Sequence[FileEdit]) -> Knowledge:
    """Load the program data as it would be after `edits` (a scratch copy): ProgramDataError names the problem."""
    data_edits = [e for e in edits if e.root == "data"]
    with tempfile.TemporaryDirectory(prefix="gzcp-knowledge-") as scratch:
        root = Path(scratch)
        (root / FACTS_DIR).mkdir()
        for name in DATA_FILES:
            shutil.copyfile(Path(data_dir) / name, root / name)
        for path in (Path(data_dir) / FACTS_DIR).glob("*.yml"):
            shutil.copyfile(path, root / FACTS_DIR / path.name)
        for edit in data_edits:
            target = root / edit.path
            if edit.after is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(edit.after, encoding="utf-8")
        return load_knowledge(root)


def current(roots: Mapping[str, Path], edit: FileEdit) -> Optional[str]:
    return read_text(_root(roots, edit))


def write_atomically(path: Path, text: Optional[str]) -> None:
    """Replace the file in one step (or remove it): a reader sees the old file or the new one, never half."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.chmod(temporary, os.stat(path).st_mode & 0o777)
        except FileNotFoundError:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def apply(roots: Mapping[str, Path], edits: Sequence[FileEdit]) -> None:
    """Write the edits in order (a new source before the fact citing it, so every moment is consistent)."""
    for edit in edits:
        write_atomically(_root(roots, edit), edit.after)


def stale(roots: Mapping[str, Path], edits: Sequence[FileEdit]) -> List[str]:
    """The files whose text is no longer what the edits start from (changed by someone else since)."""
    return [e.path for e in edits if current(roots, e) != e.before]
