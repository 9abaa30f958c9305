"""The answer to a stored lead or hand-off — status, headers and JSON body — given by the route
(bot.leads.routes.create_lead) and by its fast path (bot.leads.fast_path) alike."""

from __future__ import annotations

from typing import Dict, NamedTuple

from bot.leads.access import PREFIX
from bot.leads.schemas import LeadOut
from bot.leads.service import Stored


class Answer(NamedTuple):
    status: int
    headers: Dict[str, str]
    body: bytes  # LeadOut as JSON


def answer(stored: Stored) -> Answer:
    """201 with the new lead, or 200 with the earlier one for a replayed Idempotency-Key."""
    headers = {"Location": f"{PREFIX}/{stored.lead.id}"}
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    # LeadOut is built from the row and serialised once; returned as a model, FastAPI would dump it, validate it
    # against the route's response_model again and encode it a second time.
    body = LeadOut.from_row(stored.lead).model_dump_json().encode("utf-8")
    return Answer(200 if stored.replayed else 201, headers, body)
