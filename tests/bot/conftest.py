"""Unit tests of the app side: failed Rasa turns are retried after pauses; keep those pauses short here."""

import os

os.environ.setdefault("CHAT_RASA_RETRY_DELAYS", "0.01,0.02")
