"""Finds the partner categories a message names and gives each as one of the four keys.

The pipeline has no trained entity extractor (config.yml): this component is where partner_category
entities come from. Category names and synonyms written in the text are found (exact or fuzzy,
"city dreamrs" -> city_dreamer); an entity already on the message (a button's payload) is normalised
to its key, or dropped when it names no category. Synonyms live in
bot/shared/program/data/categories.yml, read at run time, so a new synonym needs no retraining.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.shared.program import default_store
from bot.shared.program.categories import CategoryMatcher

ENTITY = "partner_category"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CategoryEntityNormalizer(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._config = config
        self._knowledge = None
        self._matcher: CategoryMatcher

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CategoryEntityNormalizer:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    @property
    def matcher(self) -> CategoryMatcher:
        knowledge = default_store.current()
        if knowledge is not self._knowledge:
            self._knowledge = knowledge
            self._matcher = CategoryMatcher(knowledge)
        return self._matcher

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(ENTITIES, self.normalise(message.get(TEXT) or "", message.get(ENTITIES, [])), add_to_output=True)
        return messages

    def normalise(self, text: str, entities: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        matcher = self.matcher
        result: List[Dict[str, Any]] = []
        found_category = False
        for entity in entities:
            if entity.get("entity") != ENTITY:
                result.append(entity)
                continue
            key = matcher.normalize(str(entity.get("value", "")), text)
            if key is None:
                continue
            result.append({**entity, "value": key})
            self.add_processor_name(result[-1])
            found_category = True
        if not found_category:
            for mention in matcher.find(text):
                result.append(
                    {
                        "entity": ENTITY,
                        "start": mention.start,
                        "end": mention.end,
                        "value": mention.key,
                        "confidence_entity": 1.0,
                        "extractor": self.name,
                    }
                )
        return sorted(result, key=lambda e: e.get("start", 0))
