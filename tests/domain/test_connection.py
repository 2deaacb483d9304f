from __future__ import annotations

import pytest

from gatekey.domain.connection import (
    Change,
    Event,
    Reason,
    Status,
    StatusChange,
    clean_name,
    name_key,
    transition,
)
from gatekey.domain.webhooks import EVENTS
from gatekey.errors import InvalidName


def test_names_are_trimmed_and_case_insensitive_keys() -> None:
    assert clean_name("  SendGrid - Production ") == "SendGrid - Production"
    assert name_key("SendGrid") == name_key("SENDGRID")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "tab\there", "zero\u200bwidth", 5])
def test_bad_names_are_refused(bad: object) -> None:
    with pytest.raises(InvalidName):
        clean_name(bad)


# -- the status machine ---------------------------------------------------------------------

ACTIVATING = (Change.CREDENTIALS_REPLACED, Change.TEST_PASSED, Change.RECONNECTED)
DEACTIVATING = {
    Change.CREDENTIALS_REFUSED: Reason.INVALID_CREDENTIALS,
    Change.GRANT_REVOKED: Reason.REVOKED,
    Change.REFRESH_FAILED: Reason.REFRESH_FAILED,
}


def test_a_new_connection_is_active_and_announced() -> None:
    assert transition(None, Change.CREATED) == StatusChange(
        Status.ACTIVE, None, None, Event.CREATED
    )


@pytest.mark.parametrize(
    ("current", "change", "event"),
    [
        (Status.ACTIVE, Change.TEST_PASSED, None),
        (Status.ACTIVE, Change.CREDENTIALS_REPLACED, None),
        (Status.INACTIVE, Change.TEST_PASSED, Event.RECOVERED),
        (Status.INACTIVE, Change.CREDENTIALS_REPLACED, Event.RECOVERED),
        (Status.ACTIVE, Change.RECONNECTED, Event.RECONNECTED),
        (Status.INACTIVE, Change.RECONNECTED, Event.RECONNECTED),
    ],
)
def test_what_makes_a_connection_active_and_which_event_says_so(
    current: Status, change: Change, event: Event | None
) -> None:
    assert transition(current, change) == StatusChange(Status.ACTIVE, None, None, event)
    assert transition(current.value, change) == transition(current, change), "stored text"


@pytest.mark.parametrize("change", list(DEACTIVATING))
def test_a_refusal_makes_it_inactive_with_its_reason_and_is_news_once(change: Change) -> None:
    first = transition(Status.ACTIVE, change, "the app said no")
    assert first == StatusChange(
        Status.INACTIVE, DEACTIVATING[change], "the app said no", Event.INACTIVE
    )
    again = transition(Status.INACTIVE, change, "still no")
    assert again == StatusChange(Status.INACTIVE, DEACTIVATING[change], "still no", None)


@pytest.mark.parametrize("current", [None, *Status])
@pytest.mark.parametrize("change", list(Change))
def test_every_change_emits_at_most_one_event_and_only_when_it_is_news(
    current: Status | None, change: Change
) -> None:
    message = "refused" if change in DEACTIVATING else None
    try:
        outcome = transition(current, change, message)
    except ValueError:
        assert (current is None) != (change is Change.CREATED)
        return
    assert (outcome.reason is None) == (outcome.status is Status.ACTIVE)
    assert (outcome.message is None) == (outcome.status is Status.ACTIVE)
    if outcome.event is Event.INACTIVE:
        assert current is Status.ACTIVE and outcome.status is Status.INACTIVE
    if outcome.event is Event.RECOVERED:
        assert current is Status.INACTIVE and outcome.status is Status.ACTIVE
    if current == outcome.status and change not in (Change.RECONNECTED, Change.CREATED):
        assert outcome.event is None, "no news, no event"
    assert outcome.event is None or outcome.event.value in EVENTS


@pytest.mark.parametrize(
    ("current", "change", "message"),
    [
        (Status.ACTIVE, Change.CREATED, None),
        (None, Change.TEST_PASSED, None),
        (None, Change.CREDENTIALS_REFUSED, "no"),
        (Status.ACTIVE, Change.CREDENTIALS_REFUSED, None),
        (Status.ACTIVE, Change.GRANT_REVOKED, ""),
        (Status.INACTIVE, Change.TEST_PASSED, "a message for an active connection"),
    ],
)
def test_changes_that_cannot_happen_are_bugs_not_refusals(
    current: Status | None, change: Change, message: str | None
) -> None:
    with pytest.raises(ValueError, match=change.value):
        transition(current, change, message)


def test_every_connection_event_is_a_webhook_event_type() -> None:
    assert {e.value for e in Event} <= set(EVENTS)
