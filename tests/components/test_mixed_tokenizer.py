from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.mixed_tokenizer import MixedLanguageTokenizer

TOKENIZER = MixedLanguageTokenizer(MixedLanguageTokenizer.get_default_config())


def tokens(text: str) -> list:
    return [(t.text, t.start, t.end) for t in TOKENIZER.tokenize(Message(data={"text": text}), "text")]


def test_english_is_split_on_words_without_whitespace_tokens() -> None:
    assert [t for t, _, _ in tokens("What about  city dreamers?")] == ["What", "about", "city", "dreamers"]


def test_offsets_point_into_the_original_text() -> None:
    text = "我想了解 city dreamer有什么权益"
    for word, start, end in tokens(text):
        assert text[start:end] == word


@pytest.mark.parametrize("name", ["城市梦想家", "超级合伙人", "战略合作伙伴", "城市推广大使", "推广大使"])
def test_category_names_stay_one_token(name: str) -> None:
    assert name in [t for t, _, _ in tokens(f"请介绍一下{name}的条件")]


def test_mixed_text_separates_scripts_and_keeps_emails_whole() -> None:
    words = [t for t, _, _ in tokens("super partner的条件，邮箱 li.wei@example.cn 谢谢")]
    assert words[:2] == ["super", "partner"]
    assert "li.wei@example.cn" in words
    assert not any(w.strip() != w or not w for w in words)
