"""The dates of a credential's life: when a retiring method is gone, and how long a credential
that dies when idle may sit unused before Gatekey uses it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gatekey.catalog.lifecycle import Deprecation, keep_alive_after


def _deprecation(sunset: date | None) -> Deprecation:
    return Deprecation(
        since=date(2026, 10, 27),
        sunset=sunset,
        note="API tokens are switched off",
        source="https://developer.zendesk.com/documentation/api-basics/authentication/oauth-migration/",
    )


def test_a_method_is_retired_from_its_sunset_on() -> None:
    gone = _deprecation(date(2027, 4, 30))
    assert not gone.retired(date(2027, 4, 29))
    assert gone.retired(date(2027, 4, 30)) and gone.retired(date(2030, 1, 1))


def test_a_method_without_a_sunset_is_never_retired() -> None:
    assert not _deprecation(None).retired(date(2100, 1, 1))


@pytest.mark.parametrize(
    ("limit", "after"),
    [
        (30, timedelta(days=15)),  # Zendesk API tokens: half the limit
        (5, timedelta(days=2)),  # three days left to retry in
        (2, timedelta(hours=12)),  # never under a quarter of the limit
        (3650, timedelta(days=1825)),
    ],
)
def test_a_credential_is_kept_alive_well_before_its_limit(limit: int, after: timedelta) -> None:
    assert keep_alive_after(limit) == after
