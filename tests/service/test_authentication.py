"""``service.authentication``: API keys authenticate until revoked or expired."""

from __future__ import annotations

import pytest

from gatekey.domain.connection import Role
from gatekey.service import Actor, Service


def test_api_keys_authenticate_and_revoke(service: Service, actor: Actor) -> None:
    key = service.access.create_key(actor, name="worker", role="runtime")
    assert key.token not in repr(key)
    who = service.system.authenticate(key.token)
    assert (who.project_id, who.key_id, who.role) == (actor.project_id, key.id, Role.RUNTIME)
    listed = service.access.list_keys(actor)
    assert key.token not in str([k.model_dump() for k in listed])
    service.access.revoke_key(actor, key.id)
    from gatekey.errors import AuthenticationFailed

    for token in [key.token, "gk_unknown", "", None, "Bearer x"]:
        with pytest.raises(AuthenticationFailed) as caught:
            service.system.authenticate(token)
        assert caught.value.message == "missing, unknown, expired or revoked API key"


def test_expired_api_key_is_refused(service: Service, actor: Actor) -> None:
    from datetime import timedelta

    from gatekey.errors import AuthenticationFailed

    key = service.access.create_key(
        actor, name="short", role="admin", expires_in=timedelta(seconds=-1)
    )
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)
