"""What both runtimes import: the action server (Rasa's Python 3.10: pydantic 1, SQLAlchemy 1.4, redis 4)
and the web app (Python 3.11: pydantic 2, SQLAlchemy 2, redis 5+).

Plain Python that runs on 3.10 and 3.11 with only the libraries both environments have: PyYAML, redis-py,
phonenumbers and email-validator. Never FastAPI, pydantic, SQLAlchemy, httpx or Rasa, and never the web
app's domains (`bot.chat`, `bot.leads`, `bot.staff`, ...). `make lint` enforces it (import-linter,
`[tool.importlinter]` in pyproject.toml), and its tests (tests/bot/shared) run on both interpreters.
"""
