"""``service.authorizations``: starting a session needs a registered client and a free name; its
state and PKCE verifier are never stored in clear."""

from __future__ import annotations

from typing import Any

import pytest

from gatekey.errors import DuplicateName, OAuthClientMissing
from gatekey.service import Actor, Service
from tests.fakes.sandbox import Sandbox, connect


def _session_rows(service: Service) -> list[Any]:
    from sqlalchemy import select

    from gatekey.store.tables import oauth_sessions

    with service.context.db.read() as conn:
        return list(conn.execute(select(oauth_sessions)).all())


def test_start_needs_a_registered_client_and_a_free_name(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    other = Actor.operator(oauth_service.system.create_project("no-clients").id)
    with pytest.raises(OAuthClientMissing):
        oauth_service.authorizations.start(other, app="sandbox", name="x")
    connect(oauth_service, oauth_actor, sandbox, name="Taken")
    with pytest.raises(DuplicateName):
        oauth_service.authorizations.start(oauth_actor, app="sandbox", name="taken")


def test_state_and_verifier_are_not_stored_in_clear(
    oauth_service: Service, oauth_actor: Actor
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Stored")
    url = session.authorize_url or ""
    state = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["state"]
    (row,) = _session_rows(oauth_service)
    assert state not in repr(tuple(row))
    assert row.state_hash != state
