"""The Telegram bridge (python-telegram-bot v22): Telegram chats <-> the assistant on Rasa's REST channel."""
