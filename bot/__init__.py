"""Guangzhou City Partner assistant: everything outside Rasa.

Sub-packages are split by domain (program, leads, staff, chat, telegram). `bot.program` is
plain Python that runs on both interpreters (Rasa's 3.10 and the app's 3.11).
"""
