"""What every part of the service shares: a refused change is audited as a change of the
object it was refused for."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatekey import ids
from gatekey.errors import NotFound
from gatekey.service import Actor, Service


@pytest.mark.parametrize(
    ("action", "object_type", "prefix", "refuse"),
    [
        (
            "connection.delete",
            "connection",
            "conn",
            lambda s, a, i: s.connections.delete(a, i),
        ),
        ("flow.delete", "flow", "flow", lambda s, a, i: s.flows.delete(a, i)),
        ("webhook.delete", "webhook", "whk", lambda s, a, i: s.webhooks.delete(a, i)),
        (
            "oauth_client.delete",
            "oauth_client",
            "oac",
            lambda s, a, i: s.oauth_clients.delete(a, i),
        ),
    ],
)
def test_a_refused_change_is_audited_as_the_object_it_was_refused_for(
    service: Service,
    actor: Actor,
    action: str,
    object_type: str,
    prefix: str,
    refuse: Callable[[Service, Actor, str], object],
) -> None:
    missing = ids.new_id(prefix)
    with pytest.raises(NotFound):
        refuse(service, actor, missing)
    refused = [e for e in service.connections.audit_trail(actor) if e.outcome == "refused"]
    assert [(e.action, e.object_type, e.object_id) for e in refused] == [
        (action, object_type, missing)
    ]
    assert refused[0].detail == {"code": "not_found"}
