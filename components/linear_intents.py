"""Intent classification by logistic regression over TF-IDF word and character n-gram features.

Rasa's LogisticRegressionClassifier with its own features and the regularisation strength `C` exposed
(Rasa fixes it at 1.0). Chosen over DIET for speed and memory, measured by `make bench` (see README,
Benchmark): no TensorFlow graph to build or run, so a Rasa server starts in about half the time and stays
well under 1 GB.

Features: the tokenizer's words (components/mixed_tokenizer.py: jieba words for Chinese, emoji included) and
the characters n-grams within words (1-4), each weighted as TF-IDF with sublinear term frequency
(1 + log count) and scaled to unit length. A long message (a paragraph with one question at its end) is then
not its word count, and common words ("we", "the", "我们") weigh little. Against Rasa's CountVectorsFeaturizer
counts this took held-out intent macro-F1 from 0.93 to 0.97 in English (make eval), and it makes Rasa's
featurizers unnecessary in the pipeline, so a message costs less. The vocabularies and IDF weights are
saved beside the classifier.

Topics: the NLU examples of `ask_program` come in blocks, one per program topic, each with intent
metadata `topic: <key>` (nlu/*/program.yml). The same model tells the topics apart (no TensorFlow
ResponseSelector): it learns `ask_program/<topic>` as classes of their own, exactly as when each topic was
an intent; it reports the intent `ask_program` with its best topic's probability (so the fallback threshold
means what it meant), and the topic in the message's `topic` field: {"name", "confidence" (within the
intent), "ranking"}, which the answering action reads (rasa_sdk: tracker.latest_message["topic"]).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

DELIMITER = "/"  # ask_program/benefits, as Rasa names retrieval intents
TOPIC = "topic"  # the intent metadata key (training data) and the output field
WEIGHTS_FILE = "idf.npz"
VOCABULARY_FILE = "vocabulary.json"
# The fitted regression as plain arrays. Rasa saves it with skops, whose import alone scans every loaded module
# (3 of a Rasa server's 6 s of model loading; make bench, issue 14); a model with only the skops file still loads.
REGRESSION_FILE = "regression.npz"
REGRESSION_FIELDS = ("coef_", "intercept_", "classes_", "n_iter_")


def tokens_of(message: Message) -> List[str]:
    return [t.text.lower() for t in message.get(TOKENS_NAMES[TEXT]) or []]


def text_of(message: Message) -> str:
    return str(message.get(TEXT) or "")


def _given(tokens: List[str]) -> List[str]:
    return tokens


def word_vectorizer(vocabulary: Optional[Dict[str, int]] = None, idf: Optional[np.ndarray] = None) -> TfidfVectorizer:
    return _fitted(TfidfVectorizer(analyzer=_given, sublinear_tf=True, vocabulary=vocabulary), idf)


def char_vectorizer(vocabulary: Optional[Dict[str, int]] = None, idf: Optional[np.ndarray] = None) -> TfidfVectorizer:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True,
                                 vocabulary=vocabulary)
    return _fitted(vectorizer, idf)


def _fitted(vectorizer: TfidfVectorizer, idf: Optional[np.ndarray]) -> TfidfVectorizer:
    """A vectorizer as saved: its vocabulary and IDF weights, no refit."""
    if idf is not None:
        vectorizer.fit([[]] if vectorizer.analyzer is _given else [""])  # sets the fixed vocabulary
        vectorizer.idf_ = idf
    return vectorizer


class Features:
    """The matrix `hstack([words.transform(tokens), chars.transform(texts)]).tocsr()` builds, built directly.

    sklearn's transform validates, converts and stacks on every call (0.5 ms for one message, most of a
    message's NLU; make bench, issue 14); the arithmetic here is the same, in the same order, so the numbers
    are equal to the last bit (tests/components/test_linear_intents.py compares them over the training data):
    term counts by the analyzers sklearn builds, log(count) + 1, times the IDF weight, each vectorizer's part
    of a row scaled to unit length, the word columns first, then the character columns after them. Within a
    part the columns run from the highest down: sklearn 1.1 multiplies by a diagonal matrix of the IDF
    weights, and scipy's sparse product reverses each row's order; the unit length is summed in that order,
    and so is the product with the weights."""

    def __init__(self, words: TfidfVectorizer, chars: TfidfVectorizer) -> None:
        self.parts = [(vec.build_analyzer(), vec.vocabulary_, np.asarray(vec.idf_, dtype=np.float64), offset)
                      for vec, offset in ((words, 0), (chars, len(words.vocabulary_)))]
        self.width = len(words.vocabulary_) + len(chars.vocabulary_)

    def matrix(self, tokens: List[List[str]], texts: List[str]) -> csr_matrix:
        data: List[np.ndarray] = []
        indices: List[np.ndarray] = []
        indptr = [0]
        for row in zip(tokens, texts, strict=True):
            size = indptr[-1]
            for (analyze, vocabulary, idf, offset), document in zip(self.parts, row, strict=True):
                counts: Dict[int, int] = {}
                for feature in analyze(document):
                    column = vocabulary.get(feature)
                    if column is not None:
                        counts[column] = counts.get(column, 0) + 1
                if not counts:
                    continue
                columns = np.fromiter(sorted(counts, reverse=True), dtype=np.int64, count=len(counts))
                values = np.array([counts[c] for c in columns.tolist()], dtype=np.float64)
                np.log(values, values)
                values += 1.0
                values *= idf[columns]
                total = 0.0
                for value in values.tolist():
                    total += value * value
                if total != 0.0:
                    values /= math.sqrt(total)
                data.append(values)
                indices.append(columns + offset)
                size += len(columns)
            indptr.append(size)
        return csr_matrix(
            (np.concatenate(data) if data else np.zeros(0), np.concatenate(indices) if indices else np.zeros(0, np.int64),
             np.asarray(indptr)),
            shape=(len(indptr) - 1, self.width),
        )


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(), "C": 1.0}

    def __init__(
        self, config: Dict[str, Any], name: str, model_storage: ModelStorage, resource: Resource
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf = LogisticRegression(
            C=float(self.config["C"]),
            solver=self.config["solver"],
            max_iter=self.config["max_iter"],
            class_weight="balanced",
            tol=self.config["tol"],
            random_state=self.config["random_state"],
            dual=False,
            fit_intercept=True,
            intercept_scaling=1,
            warm_start=False,
        )

        self.words: Optional[TfidfVectorizer] = None
        self.chars: Optional[TfidfVectorizer] = None
        self._features: Optional[Features] = None  # made on first use from the vectorizers

    @staticmethod
    def required_components() -> List[Type]:
        return [Tokenizer]

    def _create_X(self, messages: List[Message]) -> csr_matrix:
        assert self.words is not None and self.chars is not None, "the classifier is not trained"
        return hstack([self.words.transform([tokens_of(m) for m in messages]),
                       self.chars.transform([text_of(m) for m in messages])]).tocsr()

    def _create_training_matrix(self, training_data: TrainingData) -> Tuple[csr_matrix, List[str]]:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        self.words, self.chars = word_vectorizer(), char_vectorizer()
        self._features = None
        self.words.fit([tokens_of(m) for m in examples])
        self.chars.fit([text_of(m) for m in examples])
        return self._create_X(examples), [label_of(e) for e in examples]

    def persist(self) -> None:
        if self.words is None or self.chars is None:
            return  # not trained (no training data): nothing to keep, load() makes an untrained one
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / REGRESSION_FILE, **{name: getattr(self.clf, name) for name in REGRESSION_FIELDS})
            vocabularies = {name: {k: int(v) for k, v in vec.vocabulary_.items()}
                            for name, vec in (("words", self.words), ("chars", self.chars))}
            (model_dir / VOCABULARY_FILE).write_text(json.dumps(vocabularies, ensure_ascii=False), encoding="utf-8")
            np.savez(model_dir / WEIGHTS_FILE, words=self.words.idf_, chars=self.chars.idf_)

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> LinearIntentClassifier:
        component = cls(config, execution_context.node_name, model_storage, resource)
        try:
            with model_storage.read_from(resource) as model_dir:
                if not (model_dir / REGRESSION_FILE).exists():  # a model saved before REGRESSION_FILE
                    component = super().load(config, model_storage, resource, execution_context, **kwargs)
                else:
                    with np.load(model_dir / REGRESSION_FILE) as fitted:
                        for name in REGRESSION_FIELDS:
                            setattr(component.clf, name, fitted[name])
                    component.clf.n_features_in_ = component.clf.coef_.shape[1]
                vocabularies = json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
                weights = np.load(model_dir / WEIGHTS_FILE)
                component.words = word_vectorizer(vocabularies["words"], weights["words"])
                component.chars = char_vectorizer(vocabularies["chars"], weights["chars"])
        except (ValueError, FileNotFoundError):
            pass  # not trained (no training data)
        return component

    def process(self, messages: List[Message]) -> List[Message]:
        # sklearn scores X @ coef_.T; with coef_ in C order scipy copies that transposed view on every call (it
        # needs a C-contiguous dense operand). In Fortran order the view is C-contiguous: the same numbers, 0.03
        # instead of 0.30 ms a message (make bench, issue 14).
        if not hasattr(self.clf, "coef_"):
            return messages  # not trained (no training data): no intent, as Rasa's fallback then says
        if not self.clf.coef_.flags.f_contiguous:
            self.clf.coef_ = np.asfortranarray(self.clf.coef_)
        if self._features is None:
            assert self.words is not None and self.chars is not None, "the classifier is not trained"
            self._features = Features(self.words, self.chars)
        X = self._features.matrix([tokens_of(m) for m in messages], [text_of(m) for m in messages])
        probabilities = self.clf.predict_proba(X)
        for message, row in zip(messages, probabilities, strict=True):
            intents: Dict[str, float] = defaultdict(float)
            topics: Dict[str, Dict[str, float]] = defaultdict(dict)  # intent -> topic -> probability
            for label, p in zip(self.clf.classes_, row, strict=True):
                base, _, topic = str(label).partition(DELIMITER)
                intents[base] = max(intents[base], float(p))  # the intent of the likeliest class wins, as before
                if topic:
                    topics[base][topic] = float(p)
            ranking = sorted(({"name": k, "confidence": v} for k, v in intents.items()), key=lambda e: -e["confidence"])
            best = ranking[0]
            message.set(INTENT, best, add_to_output=True)
            if self.config["ranking_length"] > 0:
                ranking = ranking[: self.config["ranking_length"]]
            message.set("intent_ranking", ranking, add_to_output=True)
            if best["name"] in topics:
                message.set(TOPIC, topic_output(topics[best["name"]]), add_to_output=True)
        return messages


def label_of(example: Message) -> str:
    """`intent/topic` for an example from a block with `topic` metadata, else the intent."""
    metadata = example.get("metadata") or {}
    topic = (metadata.get("intent") or {}).get(TOPIC) if isinstance(metadata, dict) else None
    return f"{example.get(INTENT)}{DELIMITER}{topic}" if topic else str(example.get(INTENT))


def topic_output(probabilities: Dict[str, float]) -> Dict[str, Any]:
    """The likeliest topic and the ranking, each confidence taken within the intent (they sum to 1)."""
    total = sum(probabilities.values()) or 1.0
    ranking = sorted(({"name": k, "confidence": v / total} for k, v in probabilities.items()), key=lambda o: -o["confidence"])
    return {"name": ranking[0]["name"], "confidence": ranking[0]["confidence"], "ranking": ranking[:10]}
