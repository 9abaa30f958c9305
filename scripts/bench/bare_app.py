"""The reference for the intake's rate: a bare FastAPI endpoint that takes the same JSON body as a `dict`
and answers 201, served by uvicorn with the same settings as the intake (`uvicorn scripts.bench.bare_app:app`)."""

from __future__ import annotations

from typing import Any, Dict

from fastapi import FastAPI

app = FastAPI()


@app.post("/api/leads", status_code=201)
async def create_lead(body: Dict[str, Any]) -> Dict[str, Any]:
    return {"kind": body.get("kind"), "conversation_id": body.get("conversation_id")}


@app.get("/healthz")
async def healthz() -> Dict[str, str]:
    return {"status": "ok"}
