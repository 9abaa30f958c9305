"""Loopback stand-ins for the services the channels talk to (Telegram's Bot API, Rasa), for tests."""
