"""``service.web_sessions``: signing in to the pages with an admin API key or a one-time link.
A link works once, and a newer one supersedes the older unused ones; a session ends with its
expiry, with sign-out, or with the API key that opened it; tokens are stored only as hashes;
sign-ins are limited per address and per project. (The cookie and the pages over HTTP are
``tests/web/test_deps.py``.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from gatekey.errors import AuthenticationFailed, GatekeyError, Hint, RateLimited
from gatekey.service import Actor, Service
from gatekey.store.tables import signin_links, web_sessions
from tests.fakes.rows import count


def _later(service: Service, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta


def _refused(call: Callable[[], object]) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        call()
    assert caught.value.code == "unauthenticated"
    return caught.value


def test_a_link_signs_in_once(service: Service, actor: Actor) -> None:
    link = service.system.create_signin_link(actor.project_id)
    token, csrf = service.system.sign_in(link=link)

    session = service.system.web_session(token)
    assert session.actor.project_id == actor.project_id and session.csrf == csrf
    assert session.actor.key_id == "signin-link" and session.actor.role == "admin"
    used = _refused(lambda: service.system.sign_in(link=link))
    assert "used already" in used.message and used.hint == Hint("signin_link")
    assert count(service, web_sessions) == 1


def test_a_newer_link_supersedes_the_older_unused_ones(service: Service, actor: Actor) -> None:
    used = service.system.create_signin_link(actor.project_id)
    token, _ = service.system.sign_in(link=used)
    older = service.system.create_signin_link(actor.project_id)
    newest = service.system.create_signin_link(actor.project_id)

    assert "replaced by a newer one" in _refused(lambda: service.system.sign_in(link=older)).message
    assert service.system.web_session(token).actor.project_id == actor.project_id  # still in
    assert service.system.sign_in(link=newest)


def test_a_link_past_its_day_is_refused(service: Service, actor: Actor) -> None:
    link = service.system.create_signin_link(actor.project_id)
    _later(service, timedelta(hours=24))
    _refused(lambda: service.system.sign_in(link=link))
    assert count(service, web_sessions) == 0


def test_a_session_ends_with_its_expiry_and_with_sign_out(service: Service, actor: Actor) -> None:
    admin = service.access.create_key(actor, name="browser", role="admin")
    kept, _ = service.system.sign_in(api_key=admin.token)
    ended, _ = service.system.sign_in(api_key=admin.token)
    service.system.sign_out(ended)
    assert "ended" in _refused(lambda: service.system.web_session(ended)).message
    assert service.system.web_session(kept).actor.key_id == admin.id

    _later(service, timedelta(hours=12))
    _refused(lambda: service.system.web_session(kept))


def test_a_link_session_and_another_keys_session_outlive_a_revoked_key(
    service: Service, actor: Actor
) -> None:
    gone = service.access.create_key(actor, name="gone", role="admin")
    kept = service.access.create_key(actor, name="kept", role="admin")
    by_link, _ = service.system.sign_in(link=service.system.create_signin_link(actor.project_id))
    by_kept, _ = service.system.sign_in(api_key=kept.token)
    by_gone, _ = service.system.sign_in(api_key=gone.token)
    service.access.revoke_key(actor, gone.id)
    assert service.system.web_session(by_link).actor.project_id == actor.project_id
    assert service.system.web_session(by_kept).actor.key_id == kept.id
    with pytest.raises(AuthenticationFailed):
        service.system.web_session(by_gone)


def test_only_an_admin_key_or_a_live_link_signs_in(service: Service, actor: Actor) -> None:
    worker = service.access.create_key(actor, name="worker", role="runtime")
    revoked = service.access.create_key(actor, name="revoked", role="admin")
    service.access.revoke_key(actor, revoked.id)

    assert "admin API key" in _refused(lambda: service.system.sign_in(api_key=worker.token)).message
    for attempt in (
        lambda: service.system.sign_in(api_key=revoked.token),
        lambda: service.system.sign_in(api_key="gk_unknown"),
        lambda: service.system.sign_in(link="not-a-link"),
        lambda: service.system.sign_in(link=""),
        lambda: service.system.sign_in(),
    ):
        _refused(attempt)
    for token in (None, "", "x" * 201, "not-a-session"):
        _refused(lambda token=token: service.system.web_session(token))
    assert count(service, web_sessions) == 0


def test_tokens_are_stored_only_as_hashes(service: Service, actor: Actor) -> None:
    admin = service.access.create_key(actor, name="browser", role="admin")
    link = service.system.create_signin_link(actor.project_id)
    by_key, csrf = service.system.sign_in(api_key=admin.token)
    by_link, _ = service.system.sign_in(link=link)

    with service.context.db.read() as conn:
        stored = str(conn.execute(select(web_sessions)).all())
        stored += str(conn.execute(select(signin_links)).all())
    for token in (admin.token, link, by_key, by_link):
        assert token not in stored
    session = service.system.web_session(by_key)
    assert csrf not in repr(session) and by_key not in repr(session)
    signed = [e for e in service.audit.events(actor) if e.action == "web.sign_in"]
    assert sorted(e.detail["via"] for e in signed) == sorted([admin.id, "signin-link"])
    assert not [t for t in (admin.token, link, by_key, csrf) if t in str(signed)]


def test_sign_ins_are_limited_per_address_and_per_project(
    limited: Callable[..., Service],
) -> None:
    service = limited(rate_signin_per_client=2, rate_signin_per_project=3)
    project, key = service.system.bootstrap()
    assert key is not None

    for _ in range(2):
        service.system.sign_in(api_key=key.token, client="203.0.113.9")
    with pytest.raises(RateLimited) as by_address:
        service.system.sign_in(api_key=key.token, client="203.0.113.9")
    assert by_address.value.code == "rate_limited" and by_address.value.details["retry_after"] > 0
    service.system.sign_in(api_key=key.token, client="198.51.100.7")
    with pytest.raises(RateLimited) as by_project:
        service.system.sign_in(link=service.system.create_signin_link(project.id))
    assert "sign-ins to this project" in by_project.value.message
    assert count(service, web_sessions) == 3


@pytest.mark.parametrize(
    ("project_id", "code"),
    [("proj_01JD3W6ZK2Q8V5N0C7H9X4T1RB", "not_found"), ("nonsense", "invalid_id")],
)
def test_a_link_for_a_project_that_does_not_exist_is_refused(
    service: Service, project_id: str, code: str
) -> None:
    with pytest.raises(GatekeyError) as caught:
        service.system.create_signin_link(project_id)
    assert caught.value.code == code
