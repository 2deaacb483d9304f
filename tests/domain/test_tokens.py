from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from gatekey.domain import tokens

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_merge_keeps_the_old_refresh_token_and_extra_fields() -> None:
    old = {"access_token": "a1", "refresh_token": "r1", "id_token": "i1", "expires_in": 10}
    secret, config = tokens.merge(
        old,
        {
            "access_token": "a2",
            "expires_in": 3600,
            "instance_url": "https://x",
            "refresh_token": "",
        },
        {"instance_url": "instance_url"},
    )
    assert secret == {"access_token": "a2", "refresh_token": "r1", "id_token": "i1"}
    assert config == {"instance_url": "https://x"}


def test_merge_keeps_a_nested_value_as_config_and_the_object_in_the_secret() -> None:
    response = {"access_token": "a", "team": {"id": "T1", "name": "Acme"}, "owner": {"id": ""}}
    secret, config = tokens.merge({}, response, {"team_id": "team.id", "owner_id": "owner.id"})
    assert config == {"team_id": "T1"}
    assert secret["team"] == {"id": "T1", "name": "Acme"}


def test_merge_takes_a_rotated_refresh_token() -> None:
    secret, _ = tokens.merge({"refresh_token": "r1"}, {"access_token": "a", "refresh_token": "r2"})
    assert secret["refresh_token"] == "r2"


@pytest.mark.parametrize(
    ("response", "refetchable", "expected"),
    [
        ({"expires_in": 3600}, False, T0 + timedelta(hours=1)),
        ({"expires_in": "120"}, True, T0 + timedelta(seconds=120)),
        ({}, False, None),  # a code grant without a lifetime does not expire (GitHub)
        ({}, True, T0 + tokens.DEFAULT_UNREFRESHABLE_LIFETIME),  # client credentials
        ({"expires_in": 0}, True, T0 + tokens.DEFAULT_UNREFRESHABLE_LIFETIME),
    ],
)
def test_expiry_counts_from_the_send_time(
    response: dict[str, object], refetchable: bool, expected: datetime | None
) -> None:
    assert tokens.expires_at(response, T0, refetchable=refetchable) == expected


@pytest.mark.parametrize(
    ("response", "refetchable", "expected"),
    [
        ({}, False, T0 + timedelta(seconds=7200)),  # Salesforce: no expires_in at all
        ({"expires_in": "soon"}, False, T0 + timedelta(seconds=7200)),
        ({"expires_in": 0}, True, T0 + timedelta(seconds=7200)),  # beats the hourly default
        ({"expires_in": 60}, False, T0 + timedelta(seconds=60)),  # a real one still wins
    ],
)
def test_a_response_without_a_usable_lifetime_lasts_the_apps_default(
    response: dict[str, object], refetchable: bool, expected: datetime
) -> None:
    found = tokens.expires_at(response, T0, refetchable=refetchable, default_lifetime=7200)
    assert found == expected


def test_margin_is_the_smaller_of_the_app_margin_and_half_the_lifetime() -> None:
    five = timedelta(minutes=5)
    assert tokens.margin(T0, T0 + timedelta(hours=1), five) == five
    assert tokens.margin(T0, T0 + timedelta(seconds=60), five) == timedelta(seconds=30)
    assert not tokens.refresh_due(T0 + timedelta(seconds=60), T0, five, T0 + timedelta(seconds=29))
    assert tokens.refresh_due(T0 + timedelta(seconds=60), T0, five, T0 + timedelta(seconds=30))
    assert not tokens.refresh_due(None, T0, five, T0 + timedelta(days=999))


def test_granted_scopes() -> None:
    assert tokens.granted_scopes({"scope": "a b"}, ["x"], " ") == ["a", "b"]
    assert tokens.granted_scopes({"scope": "a,b"}, ["x"], ",") == ["a", "b"]
    assert tokens.granted_scopes({}, ["x"], " ") == ["x"]


def test_granted_scopes_are_split_as_the_response_separates_them() -> None:
    """GitHub: requested space-separated, granted ``repo,gist``."""
    assert tokens.granted_scopes({"scope": "repo,gist"}, ["repo"], " ", ",") == ["repo", "gist"]
    assert tokens.granted_scopes({"scope": "repo, gist"}, [], " ", ",") == ["repo", "gist"]
    # a request separator that is neither space nor comma says nothing of the response's
    assert tokens.granted_scopes({"scope": "a,b"}, [], "+") == ["a,b"]
    assert tokens.granted_scopes({"scope": "a,b"}, [], "+", ",") == ["a", "b"]


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    waits = [tokens.backoff(n, None, rng).total_seconds() for n in range(1, 12)]
    assert 1 <= waits[0] <= 2
    assert all(w <= tokens.MAX_BACKOFF.total_seconds() for w in waits)
    assert waits[-1] >= tokens.MAX_BACKOFF.total_seconds() / 2
    assert tokens.backoff(1, 120, rng).total_seconds() >= 120


def test_retry_after_reads_seconds_and_dates() -> None:
    assert tokens.retry_after_seconds("30", T0) == 30
    assert tokens.retry_after_seconds("Thu, 01 Jan 2026 00:01:00 GMT", T0) == 60
    assert tokens.retry_after_seconds("soon", T0) is None
    assert tokens.retry_after_seconds(None, T0) is None


def test_a_sweep_refreshes_an_hour_token_ahead_of_its_margin() -> None:
    expires, margin, ahead = T0 + timedelta(hours=1), timedelta(minutes=5), timedelta(minutes=1)
    due = expires - margin  # where a resolution would refresh it
    assert not tokens.refresh_ahead_due(expires, T0, margin, due - ahead * 2, ahead)
    assert tokens.refresh_ahead_due(expires, T0, margin, due - ahead, ahead)


def test_a_sweep_leaves_a_token_shorter_than_its_lookahead_until_it_expired() -> None:
    """20 s tokens, a sweep every 30 s (60 s ahead): each new token would be as due as the last,
    on every sweep of every replica; it is refreshed once per lifetime instead."""
    margin, ahead = timedelta(minutes=5), timedelta(seconds=60)
    expires = T0 + timedelta(seconds=20)
    for age in (0, 5, 10, 19):
        assert not tokens.refresh_ahead_due(expires, T0, margin, T0 + timedelta(seconds=age), ahead)
    assert tokens.refresh_ahead_due(expires, T0, margin, expires, ahead)
    # a resolution still refreshes it at half its life
    assert tokens.refresh_due(expires, T0, margin, T0 + timedelta(seconds=10))
    assert not tokens.refresh_ahead_due(None, T0, margin, T0, ahead), "never expires"
