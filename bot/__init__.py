"""Guangzhou City Partner assistant: everything outside Rasa.

`bot.shared` is what both runtimes import (the action server on Rasa's Python 3.10 and the web app on
3.11): program knowledge, screening, eligibility, the intake contract, the outbox, logging filters.
Beside it, one package per domain of the web app (chat, leads, staff, web, telegram, metrics, health),
each with its routes, service and models; they import `bot.shared`, never the other way round, and
`actions/` imports only `bot.shared`. `make lint` enforces both (import-linter).
"""
