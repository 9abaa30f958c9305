"""Grounded retrieval: the facts that answer a question no topic answers, from the sourced fact base only.

Each fact is found through its own text and the ways people ask for it (`asked` in facts/*.yml), per
language. A question is compared with them by TF-IDF over words (English: stop words dropped, a light
stemmer; Chinese: jieba's words) and over character n-grams (typos, inflection, unsegmented Chinese), the
two similarities averaged; a fact scores its best match. The best fact answers when it reaches
RETRIEVAL_THRESHOLD, with the facts close behind it (within RETRIEVAL_MARGIN, at most MAX_FACTS); below
the threshold there is no answer, and the assistant says it does not know and offers staff. Both the
threshold and the accuracy are measured by `make eval` on tests/eval/facts_*.yml (written apart from the
facts' `asked` questions). The index is rebuilt when the program data changes.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import jieba
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from bot.shared.logs import mask
from bot.shared.program.knowledge import Fact, Knowledge
from bot.shared.program.language import CJK_CHARS

jieba.setLogLevel(logging.WARNING)

RETRIEVAL_THRESHOLD = 0.45  # calibrated on tests/eval/facts_*.yml: no wrong English answer, 4 of 120 Chinese
SURE = 0.6  # above it the answer stands alone; below it, the staff contact comes with it
RETRIEVAL_MARGIN = 0.85
MAX_FACTS = 2
WORD_WEIGHT = 0.5
_CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN = re.compile(r"[A-Za-z]{2,}")
_STOP = frozenset(
    """a an the of to in on for and or is are was were be been am what which who whom how when where why does do
    did can could would should will about with from by at as it its this that these those there their they them
    we our us you your i me my please pls tell know any some much many more most get got have has had there's
    what's whats""".split()
)
_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def english_words(text: str) -> List[str]:
    text = re.sub(r"['’]s\b", "", text.lower())  # "guangzhou's" is "guangzhou", and "what's" leaves no "s"
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text) if w not in _STOP and len(w) > 1]


# Question and function words: they say how something is asked, not what (every asked question has them).
_STOP_ZH = frozenset(
    """的 了 吗 呢 吧 啊 呀 是 有 在 和 与 及 或 也 都 就 还 要 会 能 可以 可不可以 能不能 请问 请 问 一下 我 我们 你 你们
    他们 它 这 那 这个 那个 这些 那些 什么 啥 哪 哪些 哪个 哪里 怎么 怎样 怎么样 如何 为什么 多少 几 吗？ 呢？ 谁 一个
    有没有 是不是 多 么 想 知道 了解 介绍 告诉 关于""".split()
)


def chinese_words(text: str) -> List[str]:
    return [w for w in jieba.lcut(text) if w.strip() and not re.fullmatch(r"\W+", w) and w not in _STOP_ZH]


@dataclass(frozen=True)
class Hit:
    section: str
    fact: Fact
    score: float


class _LanguageIndex:
    def __init__(self, documents: List[str], owners: List[int], language: str) -> None:
        self.owners = owners  # document -> fact entry
        analyzer = english_words if language == "en" else chinese_words
        self.words = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=True, sublinear_tf=True)
        self.word_matrix = self.words.fit_transform(documents)
        self.char_matrix = self.chars.fit_transform(documents)

    def scores(self, question: str, entries: int) -> List[float]:
        words: csr_matrix = self.words.transform([question])
        chars: csr_matrix = self.chars.transform([question])
        by_document = (WORD_WEIGHT * linear_kernel(words, self.word_matrix).ravel()
                       + (1 - WORD_WEIGHT) * linear_kernel(chars, self.char_matrix).ravel())
        best = [0.0] * entries
        for document, score in enumerate(by_document):
            owner = self.owners[document]
            best[owner] = max(best[owner], float(score))
        return best


class FactIndex:
    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge
        self.entries: List[Tuple[str, Fact]] = [(section, fact) for section, facts in knowledge.facts.items() for fact in facts]
        self._indexes: Dict[str, _LanguageIndex] = {}
        for language in ("en", "zh"):
            documents, owners = [], []
            for i, (section, fact) in enumerate(self.entries):
                title = knowledge.section_titles.get(section)
                for text in (f"{title.get(language) if title else ''} {fact.text.get(language)}", *fact.asked.get(language, ())):
                    documents.append(text)
                    owners.append(i)
            self._indexes[language] = _LanguageIndex(documents, owners, language)

    def search(self, question: str, sections: Optional[Sequence[str]] = None) -> List[Hit]:
        """Facts ranked by similarity to the question (in the languages it is written in)."""
        text = mask(question or "").strip()  # an email or phone number in the question is not a search term
        languages = [lang for lang, pattern in (("zh", _CJK), ("en", _LATIN)) if pattern.search(text)]
        best = [0.0] * len(self.entries)
        for language in languages:
            for i, score in enumerate(self._indexes[language].scores(text, len(self.entries))):
                best[i] = max(best[i], score)
        hits = [Hit(self.entries[i][0], self.entries[i][1], s) for i, s in enumerate(best)
                if s > 0 and (sections is None or self.entries[i][0] in sections)]
        return sorted(hits, key=lambda h: -h.score)

    def answer(self, question: str, sections: Optional[Sequence[str]] = None, threshold: float = RETRIEVAL_THRESHOLD
               ) -> List[Hit]:
        """The facts that answer the question, or [] when none is close enough to say so."""
        hits = self.search(question, sections)
        if not hits or hits[0].score < threshold:
            return []
        floor = hits[0].score * RETRIEVAL_MARGIN
        return [h for h in hits[:MAX_FACTS] if h.score >= floor]


_lock = threading.Lock()
_cached: Optional[FactIndex] = None


def index_for(knowledge: Knowledge) -> FactIndex:
    """The index of this version of the program data (built once per version)."""
    global _cached
    with _lock:
        if _cached is None or _cached.knowledge is not knowledge:
            _cached = FactIndex(knowledge)
        return _cached
