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


def test_the_features_are_those_of_sklearns_transform_to_the_last_bit() -> None:
    """Features.matrix against sklearn's own transform and stack, over every NLU example of the project (both
    languages) and text nobody trained on: the same columns in the same order and equal numbers."""
    from pathlib import Path

    import numpy as np
    from rasa.shared.nlu.training_data.loading import load_data
    from scipy.sparse import hstack

    from components.linear_intents import Features, char_vectorizer, text_of, tokens_of, word_vectorizer

    root = Path(__file__).resolve().parents[2] / "nlu"
    texts = [e.get("text") for path in sorted(root.rglob("*.yml")) for e in load_data(str(path)).intent_examples]
    assert len(texts) > 500
    messages = [message(t) for t in texts[::2]]  # fitted on half; the other half has words it never saw
    words, chars = word_vectorizer(), char_vectorizer()
    words.fit([tokens_of(m) for m in messages])
    chars.fit([text_of(m) for m in messages])
    unseen = ["🦄🦄", "", "   ", "ZZZ qqq", "Ünïcödé façade", "我们公司想成为城市合伙人!!"]
    every = [message(t) for t in texts + unseen]
    for batch in ([m] for m in every[:300]), [every]:
        for group in batch:
            ours = Features(words, chars).matrix([tokens_of(m) for m in group], [text_of(m) for m in group])
            theirs = hstack([words.transform([tokens_of(m) for m in group]),
                             chars.transform([text_of(m) for m in group])]).tocsr()
            assert ours.shape == theirs.shape
            assert np.array_equal(ours.indptr, theirs.indptr) and np.array_equal(ours.indices, theirs.indices)
            assert np.array_equal(ours.data, theirs.data)


def test_a_model_saved_by_rasas_own_persist_still_loads(tmp_path) -> None:
    """Models trained before the regression was kept as plain arrays hold only Rasa's skops file."""
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    from components.linear_intents import REGRESSION_FILE

    classifier = trained(tmp_path)
    classifier.persist()
    with classifier._model_storage.write_to(Resource("intents")) as model_dir:
        assert (model_dir / REGRESSION_FILE).exists()
        (model_dir / REGRESSION_FILE).unlink()
    LogisticRegressionClassifier.persist(classifier)  # Rasa's skops file, as earlier models have it
    loaded = LinearIntentClassifier.load({"C": 50}, classifier._model_storage, Resource("intents"), MagicMock())
    for text in ("hey there", "多谢啦"):
        assert intent(loaded, text) == intent(classifier, text)


def test_an_untrained_classifier_loads_and_gives_no_intent(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    loaded = LinearIntentClassifier.load({}, storage, Resource("nothing"), MagicMock())
    assert loaded.process([message("hello")])[0].get("intent") is None
