"""The intent classifier passes its regularisation strength on to scikit-learn (Python 3.10)."""

from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from components.linear_intents import LinearIntentClassifier


def test_c_reaches_the_logistic_regression(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    default = LinearIntentClassifier({}, "intents", storage, Resource("intents"))
    tuned = LinearIntentClassifier({"C": 10}, "intents", storage, Resource("intents"))
    assert default.clf.C == 1.0 and tuned.clf.C == 10.0
    assert tuned.clf.class_weight == "balanced"
