"""``domain.refresh.decide``: serve, refresh, wait or fail, from what the row says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gatekey.domain import refresh
from gatekey.domain.refresh import Action, Decision, TokenState

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MARGIN = timedelta(minutes=5)
HOUR = timedelta(hours=1)


def _token(expires_in: timedelta, **extra: datetime) -> TokenState:
    return TokenState(NOW + expires_in, NOW + expires_in - HOUR, **extra)


def _decide(token: TokenState, **options: object) -> Action:
    return refresh.decide(token, now=NOW, margin=MARGIN, **options).action  # type: ignore[arg-type]


def test_a_token_outside_its_margin_is_served() -> None:
    assert _decide(_token(timedelta(minutes=30))) is Action.SERVE
    assert _decide(TokenState(None, None)) is Action.SERVE, "a token that never expires"


def test_a_token_inside_its_margin_is_refreshed_unless_someone_holds_the_lease() -> None:
    due = _token(timedelta(minutes=2))
    assert _decide(due) is Action.REFRESH
    leased = _token(timedelta(minutes=2), lease_until=NOW + timedelta(seconds=30))
    assert _decide(leased) is Action.SERVE, "still valid: served while the holder refreshes"
    assert _decide(due, leased=True) is Action.SERVE
    lapsed = _token(timedelta(minutes=2), lease_until=NOW - timedelta(seconds=1))
    assert _decide(lapsed) is Action.REFRESH


def test_an_expired_or_refused_token_waits_for_the_lease_holder() -> None:
    expired = _token(-timedelta(seconds=1), lease_until=NOW + timedelta(seconds=30))
    assert _decide(expired) is Action.WAIT
    valid = _token(timedelta(minutes=30))
    assert _decide(valid, forced=True) is Action.REFRESH, "the app refused it"
    assert _decide(valid, forced=True, leased=True) is Action.WAIT


def test_during_a_backoff_a_valid_token_is_served_and_an_expired_one_fails() -> None:
    retry = NOW + timedelta(seconds=40)
    assert _decide(_token(timedelta(minutes=2), retry_at=retry)) is Action.SERVE
    decision = refresh.decide(_token(-timedelta(seconds=1), retry_at=retry), now=NOW, margin=MARGIN)
    assert decision == Decision(Action.FAIL, 40.0)
    over = _token(-timedelta(seconds=1), retry_at=NOW - timedelta(seconds=1))
    assert _decide(over) is Action.REFRESH


def test_ahead_looks_past_now_but_not_past_half_the_lifetime() -> None:
    token = _token(timedelta(minutes=20))
    assert _decide(token) is Action.SERVE
    assert _decide(token, ahead=timedelta(minutes=16)) is Action.REFRESH
    short = TokenState(NOW + timedelta(seconds=50), NOW - timedelta(seconds=10))
    assert _decide(short, ahead=timedelta(minutes=1)) is Action.SERVE, "left until it expires"


@pytest.mark.parametrize(
    ("last", "days", "idle"),
    [(NOW - timedelta(days=31), 30, True), (NOW - timedelta(days=29), 30, False)],
)
def test_idle_grants(last: datetime, days: int, idle: bool) -> None:
    assert refresh.idle(last, days, NOW) is idle
    assert refresh.idle(last, None, NOW) is False
    assert refresh.idle(None, days, NOW) is False


def test_a_stale_token_is_one_still_stored() -> None:
    assert refresh.is_stale("abc", "abc")
    assert not refresh.is_stale("abc", "abd")
    assert not refresh.is_stale("abc", None)
    assert not refresh.is_stale("é", "e"), "any text, compared in constant time"
