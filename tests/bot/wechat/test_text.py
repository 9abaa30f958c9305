"""Splitting within WeChat's 2048 bytes, joining a turn's replies into few messages, the numbered list."""

from __future__ import annotations

import pytest

from bot.shared.replies import Button, Reply
from bot.wechat.channel import render
from bot.wechat.choices import menu_for
from bot.wechat.text import TEXT_LIMIT, messages, split_text, unavailable


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def test_chinese_is_split_by_bytes_at_sentences() -> None:
    text = "".join(f"第{i}句，广州城市合伙人计划欢迎您。" for i in range(300))
    pieces = split_text(text)
    assert len(pieces) > 1 and all(size(p) <= TEXT_LIMIT for p in pieces)
    assert all(p.endswith("。") for p in pieces)  # cut after a full stop, which stays with its sentence
    assert "".join(pieces) == text


def test_paragraphs_lines_and_words_are_preferred_cuts_and_nothing_is_lost() -> None:
    text = "\n\n".join(["word " * 500, "line\n" * 200, "x" * 5000])
    pieces = split_text(text)
    assert all(size(p) <= TEXT_LIMIT for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert pieces[0].endswith("word") and pieces[1].startswith("word")


def test_a_turns_replies_go_in_as_few_messages_as_fit() -> None:
    assert messages(["一", "二", "三"]) == ["一\n\n二\n\n三"]
    long = "长" * 682  # 2046 bytes: nothing more fits beside it
    assert messages([long, "短"]) == [long, "短"]
    assert messages(["", "  "]) == []


@pytest.mark.parametrize("typed, chosen", [("1", "/a"), ("2", "/b"), (" 2. ", "/b"), ("(1)", "/a"), ("１", "/a"),
                                           ("2、", "/b"), ("3", None), ("0", None), ("12", None), ("a", None),
                                           ("1 and 2", None), ("", None)])
def test_a_number_answers_a_numbered_list(typed: str, chosen) -> None:
    assert menu_for([Button("企业", "/a"), Button("个人", "/b")]).pick(typed) == chosen


@pytest.mark.parametrize("typed, chosen", [("A", "/few"), ("b", "/many"), ("Ｂ", "/many"), ("1", None), ("C", None)])
def test_a_list_of_figures_is_lettered(typed: str, chosen) -> None:
    menu = menu_for([Button("20人以下", "/few"), Button("20–299人", "/many")])
    assert menu.letters and menu.pick(typed) == chosen


def test_render_numbers_buttons_across_the_turn_and_ends_with_the_hint() -> None:
    replies = [Reply("先说一句。"), Reply("请选择：", (Button("是", "/yes"), Button("否", "/no")))]
    blocks, menu = render(replies, "zh")
    assert blocks == ["先说一句。", "请选择：\n1. 是\n2. 否\n回复序号即可选择（如 1）。"]
    assert menu is not None and menu.payloads == ["/yes", "/no"]
    blocks, menu = render([Reply("Choose", (Button("Yes", "/yes"),))], "en")
    assert blocks == ["Choose\n1. Yes\nReply with a number to choose (e.g. 1)."]
    assert render([Reply("no buttons")], "en") == (["no buttons"], None)


def test_unavailable_says_it_in_both_languages() -> None:
    assert unavailable("zh").index("抱歉") < unavailable("zh").index("Sorry")
    assert unavailable("en").index("Sorry") < unavailable("en").index("抱歉")
