"""The intent classifier: its own TF-IDF features, saved and loaded with the model (Python 3.10)."""

from __future__ import annotations

from unittest.mock import MagicMock

from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.linear_intents import LinearIntentClassifier
from components.mixed_tokenizer import MixedLanguageTokenizer

TOKENIZER = MixedLanguageTokenizer(MixedLanguageTokenizer.get_default_config())
EXAMPLES = {
    "greet": ["hello", "hi there", "good morning", "hey", "你好", "早上好"],
    "apply": ["we want to join", "how do we sign up our company", "we'd like to become a partner", "我们想加入",
              "我们公司想申请"],
    "thank": ["thanks", "thank you so much", "cheers", "谢谢", "多谢"],
}


def message(text: str, intent: str = "") -> Message:
    m = Message(data={"text": text, **({"intent": intent} if intent else {})})
    TOKENIZER.process([m])
    return m


def trained(tmp_path) -> LinearIntentClassifier:
    storage = LocalModelStorage(tmp_path)
    classifier = LinearIntentClassifier({"C": 50}, "intents", storage, Resource("intents"))
    data = TrainingData([message(t, intent) for intent, texts in EXAMPLES.items() for t in texts])
    TOKENIZER.process_training_data(data)
    classifier.train(data)
    return classifier


def intent(classifier: LinearIntentClassifier, text: str) -> str:
    return classifier.process([message(text)])[0].get("intent")["name"]


def test_c_reaches_the_logistic_regression(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    default = LinearIntentClassifier({}, "intents", storage, Resource("intents"))
    tuned = LinearIntentClassifier({"C": 10}, "intents", storage, Resource("intents"))
    assert default.clf.C == 1.0 and tuned.clf.C == 10.0
    assert tuned.clf.class_weight == "balanced"


def test_a_long_message_is_read_by_what_it_says_not_by_its_length(tmp_path) -> None:
    classifier = trained(tmp_path)
    long = "hello hello hello hello hello hello, we want to join and sign up as a partner"
    assert intent(classifier, "thanks a lot") == "thank" and intent(classifier, "我们想申请加入") == "apply"
    assert intent(classifier, long) == "apply"


def test_the_saved_model_predicts_as_the_trained_one(tmp_path) -> None:
    classifier = trained(tmp_path)
    loaded = LinearIntentClassifier.load({"C": 50}, classifier._model_storage, Resource("intents"), MagicMock())
    for text in ("hey there", "we'd like to sign up", "多谢啦", "🙏"):
        before = classifier.process([message(text)])[0].get("intent")
        after = loaded.process([message(text)])[0].get("intent")
        assert before["name"] == after["name"] and abs(before["confidence"] - after["confidence"]) < 1e-9


def test_a_message_with_nothing_known_still_gets_an_intent(tmp_path) -> None:
    assert intent(trained(tmp_path), "🦄🦄") in EXAMPLES  # never an exception, so never an empty reply


def test_the_weights_kept_for_scoring_give_the_same_probabilities(tmp_path) -> None:
    """process() keeps the weights in Fortran order (no copy a message): the numbers are those of C order."""
    import numpy as np

    classifier = trained(tmp_path)
    texts = ["hey there", "we'd like to sign up", "多谢啦", "🙏"]
    X = classifier._create_X([message(t) for t in texts])
    classifier.clf.coef_ = np.ascontiguousarray(classifier.clf.coef_)  # C order, as a saved model loads
    expected = classifier.clf.predict_proba(X)
    classifier.process([message("hello")])
    assert classifier.clf.coef_.flags.f_contiguous
    assert np.array_equal(classifier.clf.predict_proba(X), expected)
