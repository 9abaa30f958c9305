"""Tokenizer for English, Chinese and the mix of both that users write.

Rasa's JiebaTokenizer hands whole strings to jieba, which keeps spaces (and punctuation) as
tokens, so English words come out with ' ' tokens between them (which a trained entity
extractor would even tag as entities). Here Latin words are split on word boundaries, only runs of Chinese characters go
through jieba, and no whitespace or punctuation token is produced. Category names from the
program data are added to jieba's dictionary so "城市梦想家" stays one token.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional

import jieba
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.shared.program import default_store
from bot.shared.program.language import CJK_CHARS

jieba.setLogLevel(logging.WARNING)

# A word: letters/digits (any script), joined by the characters emails, numbers and names use; or one emoji
# (people answer "👍" or "🙏" alone: a token the model can learn, and never a message without features).
_EMOJI = (
    "\U0001F300-\U0001F3FA\U0001F400-\U0001F5FF\U0001F600-\U0001F64F\U0001F680-\U0001F6FF\U0001F900-\U0001FAFF"
    "\u2600-\u27BF\u2B50\u2B55"  # skin tones (1F3FB-1F3FF) are left out: they qualify the emoji before them
)
_WORD = re.compile(rf"\w+(?:[@.'’\-+&/]\w+)*|[{_EMOJI}]", re.UNICODE)
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
# Domain words jieba would otherwise split; the category names are added from the data.
_DOMAIN_WORDS = ("城市合伙人", "合伙人", "世界500强", "专精特新", "小巨人", "单项冠军", "广交会", "全运会", "大湾区")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedLanguageTokenizer(Tokenizer):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> Optional[List[str]]:
        return None

    @staticmethod
    def required_packages() -> List[str]:
        return ["jieba"]

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._jieba = jieba.Tokenizer()
        knowledge = default_store.current()
        words = set(_DOMAIN_WORDS)
        for category in knowledge.categories.values():
            words.update(s for s in category.synonyms + category.short_forms if _CJK_RUN.fullmatch(s))
            words.add(category.name.zh)
        for word in sorted(words):
            self._jieba.add_word(word, freq=100000)

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedLanguageTokenizer:
        return cls(config)

    def split(self, text: str) -> List[Token]:
        tokens: List[Token] = []
        for word in _WORD.finditer(text):
            position = word.start()
            for part in _split_scripts(word.group()):
                if _CJK_RUN.fullmatch(part):
                    for piece, start, _ in self._jieba.tokenize(part):
                        if piece.strip():
                            tokens.append(Token(piece, position + start))
                else:
                    tokens.append(Token(part, position))
                position += len(part)
        return tokens

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        return self._apply_token_pattern(self.split(message.get(attribute)))


def _split_scripts(word: str) -> List[str]:
    """'dreamer有什么' -> ['dreamer', '有什么']: Chinese runs apart from everything else."""
    parts: List[str] = []
    last = 0
    for run in _CJK_RUN.finditer(word):
        if run.start() > last:
            parts.append(word[last : run.start()])
        parts.append(run.group())
        last = run.end()
    if last < len(word):
        parts.append(word[last:])
    return parts
