"""Intent classification by logistic regression over the sparse word and character n-gram features.

Rasa's LogisticRegressionClassifier with the regularisation strength `C` exposed (Rasa fixes it at 1.0).
Chosen over DIET for speed and memory, measured by `make bench` (see README, Benchmark): no TensorFlow
graph to build or run, so a Rasa server starts in about half the time and stays well under 1 GB.

Topics: the NLU examples of `ask_program` come in blocks, one per program topic, each with intent
metadata `topic: <key>` (nlu/*/program.yml). The same model tells the topics apart (no TensorFlow
ResponseSelector): it learns `ask_program/<topic>` as classes of their own, exactly as when each topic was
an intent; it reports the intent `ask_program` with its best topic's probability (so the fallback threshold
means what it meant), and the topic in the message's `topic` field: {"name", "confidence" (within the
intent), "ranking"}, which the answering action reads (rasa_sdk: tracker.latest_message["topic"]).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression

DELIMITER = "/"  # ask_program/benefits, as Rasa names retrieval intents
TOPIC = "topic"  # the intent metadata key (training data) and the output field


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

    def _create_training_matrix(self, training_data: TrainingData) -> Tuple[csr_matrix, List[str]]:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        return self._create_X(examples), [label_of(e) for e in examples]

    def process(self, messages: List[Message]) -> List[Message]:
        probabilities = self.clf.predict_proba(self._create_X(messages))
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
