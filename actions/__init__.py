"""Custom actions of the City Partner assistant (run by `rasa run actions`).

The program data is validated when the action server starts: a broken file stops it here,
loudly, instead of surfacing as a wrong answer later.
"""

from bot.program import default_store

default_store.load()
