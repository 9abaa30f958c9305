"""The bridge end to end over the Bot API protocol: updates in through getUpdates, replies out."""

from __future__ import annotations

import random

from bot.telegram.bridge import sender_of
from bot.telegram.text import word
from tests.bot.telegram.conftest import eventually
from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.rasa import MORE, FakeRasa

LONG = '/inform{"choice":"fortune_global_500","detail":"' + "y" * 40 + '"}'


def chat_id() -> int:
    return random.randint(10_000, 10_000_000)


async def test_text_goes_to_rasa_and_buttons_become_an_inline_keyboard(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    me = chat_id()
    bot_api.message(me, "What is the program?")
    sent = await eventually(lambda: bot_api.sent(me))
    assert rasa.received[-1]["sender"] == sender_of(me) and str(me) not in sender_of(me)  # a derived id, not the chat
    assert rasa.received[-1]["message"] == "What is the program?"
    assert rasa.received[-1]["metadata"]["channel"] == "telegram"
    assert sent[0]["text"] == "echo: What is the program?"
    assert sent[0]["reply_markup"] == {"inline_keyboard": [[{"text": "More", "callback_data": MORE}]]}
    assert bot_api.sent(me, "sendChatAction")[0]["action"] == "typing"
    assert {c["method"] for c in bot_api.calls} >= {"getMe", "setMyCommands", "deleteWebhook"}


async def test_a_button_press_relays_the_long_payload_behind_its_short_id(
    telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa
) -> None:
    rasa.replier = lambda sender, message: [
        {"recipient_id": sender, "text": "Which list?", "buttons": [{"title": "Fortune Global 500", "payload": LONG}]}
    ]
    me = chat_id()
    bot_api.message(me, "I want to join")
    first = await eventually(lambda: bot_api.sent(me))
    data = first[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert data.startswith("p:") and len(data.encode()) <= 64

    bot_api.press(me, data, message_id=77)
    await eventually(lambda: len(bot_api.sent(me)) >= 2)
    assert rasa.messages(sender_of(me))[-1] == LONG
    assert bot_api.sent(None, "answerCallbackQuery")
    edit = bot_api.sent(me, "editMessageReplyMarkup")[0]
    assert edit["message_id"] in ("77", 77)  # the old question loses its buttons


async def test_an_unknown_button_gets_a_polite_alert_and_is_not_relayed(
    telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa
) -> None:
    me = chat_id()
    bot_api.press(me, "p:0123456789abcdef01234567")
    answer = await eventually(lambda: bot_api.sent(None, "answerCallbackQuery"))
    assert answer[0]["text"] == word("expired", "en") and answer[0]["show_alert"] in ("true", True)
    assert rasa.messages(sender_of(me)) == []


async def test_start_greets_in_the_users_telegram_language(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    zh_user, en_user = chat_id(), chat_id()
    bot_api.message(zh_user, "/start", language_code="zh-hans")
    bot_api.message(en_user, "/start", language_code="de")
    await eventually(lambda: bot_api.sent(zh_user) and bot_api.sent(en_user))
    assert rasa.messages(sender_of(zh_user)) == ["/greet"]
    slots = {s["sender"]: s["value"] for s in rasa.slots}
    assert slots == {sender_of(zh_user): "zh", sender_of(en_user): "en"}


async def test_language_command_is_remembered_for_button_payloads(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    me = chat_id()
    bot_api.message(me, "/language")
    chooser = await eventually(lambda: bot_api.sent(me))
    options = [b["callback_data"] for b in chooser[0]["reply_markup"]["inline_keyboard"][0]]
    assert options == ["lang:en", "lang:zh"]
    bot_api.press(me, "lang:zh")
    confirm = await eventually(lambda: len(bot_api.sent(me)) >= 2 and bot_api.sent(me))
    assert confirm[1]["text"] == word("language_set", "zh")
    assert rasa.slots[-1] == {"sender": sender_of(me), "name": "language", "value": "zh"}

    bot_api.press(me, MORE)  # no words: answered in the chosen language, no second slot call
    await eventually(lambda: rasa.messages(sender_of(me)))
    assert rasa.received[-1]["metadata"]["language"] == "zh" and len(rasa.slots) == 1

    bot_api.message(me, "/language en")
    await eventually(lambda: len(bot_api.sent(me)) >= 4)
    assert bot_api.sent(me)[-1]["text"] == word("language_set", "en")


async def test_help_and_reset(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    me = chat_id()
    bot_api.message(me, "/help")
    helped = await eventually(lambda: bot_api.sent(me))
    assert "/language" in helped[0]["text"]
    bot_api.message(me, "/reset")
    await eventually(lambda: len(bot_api.sent(me)) >= 2)
    assert rasa.messages(sender_of(me)) == ["/restart"]
    assert bot_api.sent(me)[1]["text"] == word("reset", "en")
    assert rasa.slots[-1]["value"] == "en"  # the language survives the restart


async def test_long_replies_are_split_and_the_keyboard_goes_under_the_last_piece(
    telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa
) -> None:
    paragraph = "Guangzhou " * 300  # ~3000 characters
    rasa.replier = lambda sender, message: [
        {"recipient_id": sender, "text": f"{paragraph}\n\n{paragraph}", "buttons": [{"title": "Next", "payload": "/affirm"}]}
    ]
    me = chat_id()
    bot_api.message(me, "tell me everything")
    sent = await eventually(lambda: len(bot_api.sent(me)) >= 2 and bot_api.sent(me))
    assert len(sent) == 2 and all(len(m["text"]) <= 4096 for m in sent)
    assert "reply_markup" not in sent[0] and sent[1]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Next"


async def test_rasa_down_gets_a_polite_bilingual_message(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    rasa.down = True
    me = chat_id()
    bot_api.message(me, "你好")
    sent = await eventually(lambda: bot_api.sent(me))
    assert "抱歉" in sent[0]["text"] and "Sorry" in sent[0]["text"]
    assert sent[0]["text"].index("抱歉") < sent[0]["text"].index("Sorry")  # the language the user wrote in first


async def test_groups_get_a_note_and_nothing_reaches_the_assistant(telegram_app, bot_api: FakeBotAPI, rasa: FakeRasa) -> None:
    group = -chat_id()  # Telegram group ids are negative
    bot_api.message(group, "my email is ann@example.org, please sign me up", chat_type="group", user_id=chat_id())
    bot_api.message(group, "/start", chat_type="supergroup", user_id=chat_id())
    bot_api.press(group, "p:0123456789abcdef01234567", chat_type="group")
    note = await eventually(lambda: bot_api.sent(group))
    assert note[0]["text"] == word("private_only", "en")
    me = chat_id()  # a private chat after them: handled, so the group updates above were all processed
    bot_api.message(me, "hello")
    await eventually(lambda: bot_api.sent(me))
    assert all(r["sender"] != sender_of(group) for r in rasa.received) and len(bot_api.sent(group)) == 1
    assert not bot_api.sent(None, "answerCallbackQuery")
