"""Custom actions of the City Partner assistant (run by `rasa run actions`).

The program data is validated when the action server starts: a broken file stops it here,
loudly, instead of surfacing as a wrong answer later.
"""

from bot.shared import logs
from bot.shared.program import default_store
from bot.shared.program.screening_data import default_screening
from bot.shared.redis_conn import verify_at_start

logs.install()  # emails and phone numbers never reach the action server's log in clear
default_store.load()
default_screening()
verify_at_start()  # a bad REDIS_URL, or a password Redis refuses, stops the action server here (names REDIS_URL)
