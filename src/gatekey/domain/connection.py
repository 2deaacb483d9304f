"""Connection rules that need no I/O: statuses, reasons, names (roles: ``domain.roles``)."""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from gatekey.domain.roles import Role as Role  # its home is domain.roles
from gatekey.errors import InvalidName

MAX_NAME = 200


class Status(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Reason(StrEnum):
    """Why a connection is inactive; stable codes shown to people with a message."""

    AUTHORIZATION_PENDING = "authorization_pending"
    REVOKED = "revoked"
    REFRESH_FAILED = "refresh_failed"
    INVALID_CREDENTIALS = "invalid_credentials"
    MISSING_SCOPES = "missing_scopes"
    DECRYPTION_FAILED = "decryption_failed"


def clean_name(name: object, *, what: str = "name", limit: int = MAX_NAME) -> str:
    """Return a trimmed, NFC-normalised display name, or raise ``InvalidName``."""
    if not isinstance(name, str):
        raise InvalidName(f"{what} must be a string")
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise InvalidName(f"{what} must not be empty")
    if len(cleaned) > limit:
        raise InvalidName(f"{what} must be at most {limit} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in cleaned):
        raise InvalidName(f"{what} must not contain control characters")
    return cleaned


def name_key(name: str) -> str:
    """Return the key that makes names unique per project regardless of case."""
    return name.casefold()
