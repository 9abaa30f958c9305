"""Staff contact details: set by configuration (environment or .env), never stored in the data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class StaffContact:
    email: Optional[str] = None
    phone: Optional[str] = None
    url: Optional[str] = None

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> StaffContact:
        env = os.environ if environ is None else environ
        return cls(
            email=(env.get("PROGRAM_CONTACT_EMAIL") or "").strip() or None,
            phone=(env.get("PROGRAM_CONTACT_PHONE") or "").strip() or None,
            url=(env.get("PROGRAM_CONTACT_URL") or "").strip() or None,
        )

    @property
    def configured(self) -> bool:
        return bool(self.email or self.phone or self.url)

    def has(self, field_name: str) -> bool:
        return bool(getattr(self, field_name, None))
