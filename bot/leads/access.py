"""Who may call the lead intake, and for what: two keys with two scopes.

- INTAKE_API_KEY ("create"): POST /api/leads only. The action server and the delivery worker hold it; a
  leaked copy can add leads but cannot read one or erase anything.
- INTAKE_ADMIN_KEY ("read/erase"): GET /api/leads/..., GET /api/leads/outbox and DELETE /api/leads. The
  delivery worker holds it for erasures on a user's request (each one audited by the staff console).

A server without the key a route needs refuses it (503) rather than running open. Both checks compare bytes
in constant time; the key is checked before the request body is read (bot.leads.guard).
"""

from __future__ import annotations

import hmac
from typing import Optional, Tuple

from bot.settings import settings

PREFIX = "/api/leads"
CREATE, READ_ERASE = "create", "read/erase"


def required_scope(method: str, path: str) -> str:
    return CREATE if method.upper() == "POST" and path.rstrip("/") == PREFIX else READ_ERASE


def _matches(given: bytes, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given, expected.encode("utf-8"))


def refusal(method: str, path: str, given: Optional[bytes]) -> Optional[Tuple[int, str]]:
    """(status, message) when a request with X-API-Key `given` may not call `method path`; None when it may."""
    config = settings()
    keys = {CREATE: config.intake_api_key.strip(), READ_ERASE: config.intake_admin_key.strip()}
    scope = required_scope(method, path)
    if not keys[scope]:
        variable = "INTAKE_API_KEY" if scope == CREATE else "INTAKE_ADMIN_KEY"
        return 503, f"intake is not configured: set {variable} on the server"
    given = given or b""
    if _matches(given, keys[scope]):
        return None
    other = READ_ERASE if scope == CREATE else CREATE
    if _matches(given, keys[other]):
        return 403, f"this key may only {'create leads' if other == CREATE else 'read or erase'}; this call needs the {scope} key"
    return 401, "missing or wrong X-API-Key"
