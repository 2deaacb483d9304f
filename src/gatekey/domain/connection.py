"""Connection rules that need no I/O: statuses, reasons, names (roles: ``domain.roles``).

The status machine: a connection is active or inactive (with a reason and a message). What
happens to it is a ``Change``; ``transition`` says, from the status it has now, the status it
gets and the one webhook event the change emits, or that it emits none (an active connection
whose test passes again, an inactive one refused again). ``store.connection_writer`` applies
the result, so every status change in Gatekey is decided here and emits at most one event.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gatekey.domain.roles import Role as Role  # its home is domain.roles
from gatekey.errors import InvalidInput, InvalidName, PayloadTooLarge

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


class Event(StrEnum):
    """The webhook events about a connection (``domain.webhooks`` lists every event type)."""

    CREATED = "connection.created"
    INACTIVE = "connection.inactive"
    RECOVERED = "connection.recovered"
    RECONNECTED = "connection.reconnected"
    DELETED = "connection.deleted"


class Change(StrEnum):
    """What happened to a connection, as far as its status goes."""

    CREATED = "created"
    """Stored for the first time (created, imported or connected through a consent screen)."""
    CREDENTIALS_REPLACED = "credentials_replaced"
    """New credentials put on the same connection."""
    TEST_PASSED = "test_passed"
    """The app's test request accepted the credentials."""
    RECONNECTED = "reconnected"
    """A new grant through the consent screen, on the same connection."""
    CREDENTIALS_REFUSED = "credentials_refused"
    """The app refused the credentials (a test, or a step's request after a refresh)."""
    GRANT_REVOKED = "grant_revoked"
    """The provider says the grant was revoked."""
    REFRESH_FAILED = "refresh_failed"
    """The provider refused to refresh the token for good."""


_INACTIVE_BECAUSE = {
    Change.CREDENTIALS_REFUSED: Reason.INVALID_CREDENTIALS,
    Change.GRANT_REVOKED: Reason.REVOKED,
    Change.REFRESH_FAILED: Reason.REFRESH_FAILED,
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The outcome of a change: the status, reason and message to store, and the event to
    emit (None: the change is not news to webhook receivers)."""

    status: Status
    reason: Reason | None
    message: str | None
    event: Event | None


def transition(
    current: Status | str | None, change: Change, message: str | None = None
) -> StatusChange:
    """Return what ``change`` does to a connection whose status is ``current`` (None: there
    is no connection yet).

    A change that makes a connection inactive needs the ``message`` people will read; one
    that makes it active takes none (an active connection has no reason and no message).
    Raise ``ValueError`` for a change that cannot happen from ``current``: a bug of the
    caller, not a refusal to report.
    """
    status = None if current is None else Status(current)
    if (status is None) != (change is Change.CREATED):
        raise ValueError(f"{change} cannot happen to a connection that is {status or 'absent'}")
    reason = _INACTIVE_BECAUSE.get(change)
    if reason is None:
        if message is not None:
            raise ValueError(f"{change} makes a connection active, which has no message")
        if change is Change.CREATED:
            event: Event | None = Event.CREATED
        elif change is Change.RECONNECTED:
            event = Event.RECONNECTED
        else:
            event = Event.RECOVERED if status is Status.INACTIVE else None
        return StatusChange(Status.ACTIVE, None, None, event)
    if not message:
        raise ValueError(f"{change} makes a connection inactive: say why in a message")
    event = Event.INACTIVE if status is Status.ACTIVE else None
    return StatusChange(Status.INACTIVE, reason, message, event)


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


def same_account(expected: str | None, got: str | None) -> bool:
    """Whether a grant came back as the account a connection has: its label (the id, e-mail
    or name the app's account info gives) compared without case or surrounding space. A side
    that is not known is no evidence of a switch."""
    if not expected or not got:
        return True
    return expected.strip().casefold() == got.strip().casefold()


def name_key(name: str) -> str:
    """Return the key that makes names unique per project regardless of case."""
    return name.casefold()


MAX_METADATA_BYTES = 16 * 1024


def check_metadata(metadata: Any) -> dict[str, Any]:
    """A connection's metadata: an object of at most 16 KiB of JSON."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be an object")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise PayloadTooLarge(f"metadata is larger than {MAX_METADATA_BYTES // 1024} KiB")
    return metadata
