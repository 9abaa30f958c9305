"""Point a web app's database dependency at a test's own database."""

from __future__ import annotations

from typing import Iterator

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from bot.db import get_session, get_sessions


def use_sessions(app: FastAPI, sessions: sessionmaker[Session]) -> None:
    """Every request of `app` gets its session from `sessions` instead of DATABASE_URL's engine."""

    def session_override() -> Iterator[Session]:
        with sessions() as session:
            yield session

    async def sessions_override() -> sessionmaker[Session]:
        return sessions

    app.dependency_overrides[get_session] = session_override
    app.dependency_overrides[get_sessions] = sessions_override
