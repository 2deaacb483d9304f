"""``service.app_registry``: where the service finds apps, the shared catalog first and then
the project's own. A change made through one replica holds on every replica at once; a catalog
app added later hides a project app of the same key, loudly; a stored definition the current
schema refuses fails alone, saying what to fix, and is logged once per version."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from gatekey.catalog.loader import app_from_data
from gatekey.errors import GatekeyError, Hint, InvalidAppDefinition, UnknownApp
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.service.apps import stored_definition
from gatekey.settings import Settings
from gatekey.store.tables import project_apps
from tests.fakes.apps import acme
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def _store(service: Service, actor: Actor, key: str, definition: Any) -> None:
    """A project app row as an older version (or another writer) left it."""
    now = service.context.now()
    with service.context.db.write() as conn:
        conn.execute(
            project_apps.insert().values(
                project_id=actor.project_id,
                key=key,
                definition=definition,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )


def _stored_by_an_older_version(key: str) -> dict[str, Any]:
    """Acme as a Gatekey before the RE2 and header checks stored it: a backreference in a field
    pattern and CR/LF in a test-request header, both accepted then and refused now."""
    definition = stored_definition(app_from_data({**acme(key=key), "builtin": False}, key))
    method = definition["auth"][0]
    method["fields"]["properties"]["api_key"]["pattern"] = r"^(SG)\1?"
    method["test_request"]["headers"] = {"X-Trace": "1\r\nX-Evil: 1"}
    return definition


def test_another_replica_sees_changes_at_once(
    runtime: Runtime, settings: Settings, actor: Actor, providers: FakeProviders
) -> None:
    service = runtime.service
    second = open_runtime(settings, transport=providers.transport())
    try:
        service.apps.add(actor, acme())
        assert second.service.apps.get(actor, "acme-crm").name == "Acme CRM"
        service.apps.replace(actor, "acme-crm", acme(name="Acme v2"))
        assert second.service.apps.get(actor, "acme-crm").name == "Acme v2"
        service.apps.delete(actor, "acme-crm")
        with pytest.raises(UnknownApp):
            second.service.apps.get(actor, "acme-crm")
        service.apps.add(actor, acme(name="Acme again"))  # the key again: a new version
        assert second.service.apps.get(actor, "acme-crm").name == "Acme again"
    finally:
        second.close()


def test_a_resolution_uses_the_project_apps_current_definition_without_reading_it_again(
    runtime: Runtime, settings: Settings, actor: Actor, providers: FakeProviders
) -> None:
    """The connection's stamp carries its project app's version: a resolution whose app did not
    change reads no app row; one changed through another replica is used at once."""
    service = runtime.service
    second = open_runtime(settings, transport=providers.transport())
    try:
        service.apps.add(actor, acme())
        made = service.connections.create(
            actor, app="acme-crm", name="acme", fields={"api_key": GOOD_SENDGRID}, validate=False
        )
        assert (
            second.service.credentials.resolve(actor, made.id).base_url == "https://api.acme.test"
        )
        read = second.service.context.registry.get
        calls: list[str] = []
        second.service.context.registry.get = lambda *a, **k: calls.append(a[1]) or read(*a, **k)  # type: ignore[method-assign]
        second.service.credentials.resolve(actor, made.id)
        assert calls == [], "the cached definition, at the version the stamp read"
        service.apps.replace(actor, "acme-crm", acme(base_url="https://eu.acme.test"))
        assert second.service.credentials.resolve(actor, made.id).base_url == "https://eu.acme.test"
    finally:
        second.close()


def test_a_catalog_app_added_later_hides_a_project_app_loudly(
    runtime: Runtime,
    settings: Settings,
    actor: Actor,
    providers: FakeProviders,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime.service.apps.add(actor, acme())
    newer = app_from_data({**acme(name="Acme (operator)"), "builtin": False}, "dir")
    with caplog.at_level("WARNING", logger="gatekey.runtime"):
        later = open_runtime(settings, transport=providers.transport(), extra_apps=[newer])
    try:
        assert "has its own app 'acme-crm', now hidden" in caplog.text
        assert later.service.apps.get(actor, "acme-crm").name == "Acme (operator)"
        assert [a.source for a in later.service.apps.list(actor, "acme")] == ["directory"]
    finally:
        later.close()


def test_an_app_stored_before_the_new_checks_fails_alone_and_says_what_to_fix(
    service: Service,
    actor: Actor,
    other_actor: Actor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It used to make list_apps fail for the whole project with invalid_app_definition."""
    service.apps.add(actor, acme())
    service.apps.add(actor, acme(key="old-crm", name="Old CRM"))
    connection = service.connections.create(
        actor, app="old-crm", name="Old", fields={"api_key": GOOD_SENDGRID}
    )
    # as an older version's add and replace stored them
    _store(service, actor, "legacy-crm", _stored_by_an_older_version("legacy-crm"))
    with service.context.db.write() as conn:
        conn.execute(
            update(project_apps)
            .where(project_apps.c.project_id == actor.project_id, project_apps.c.key == "old-crm")
            .values(
                definition=_stored_by_an_older_version("old-crm"),
                version=project_apps.c.version + 1,
            )
        )

    with caplog.at_level("WARNING", logger="gatekey.service.app_registry"):
        for _ in range(3):
            listed = {a.key: a for a in service.apps.list(actor)}
        with pytest.raises(InvalidAppDefinition) as caught:
            service.apps.get(actor, "old-crm")
        with pytest.raises(InvalidAppDefinition):
            service.credentials.resolve(actor, connection.id)
        with pytest.raises(InvalidAppDefinition):
            service.connections.create(
                actor, app="legacy-crm", name="Legacy", fields={"api_key": GOOD_SENDGRID}
            )

    assert listed["acme-crm"].problem is None and listed["sendgrid"].problem is None
    assert service.apps.get(actor, "acme-crm").name == "Acme CRM"
    for key in ("old-crm", "legacy-crm"):
        problem = listed[key].problem or ""
        assert "auth.0.fields.properties.api_key.pattern" in problem and "replace" in problem
        assert listed[key].auth_kinds == [] and listed[key].source == "project"
    assert [a.key for a in service.apps.list(actor, "legacy")] == ["legacy-crm"]
    assert caught.value.code == "invalid_app_definition"
    assert [e["field"] for e in caught.value.details["errors"]] == [
        "auth.0.fields.properties.api_key.pattern",
        "auth.0.test_request.headers",
    ]
    assert caught.value.hint == Hint("replace_app", {"key": "old-crm"})
    assert "/api/" not in caught.value.message and "gatekey " not in caught.value.message
    assert [c.id for c in service.connections.list(actor).items] == [connection.id]
    assert "old-crm" not in {a.key for a in service.apps.list(other_actor)}

    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert sorted(r.getMessage().split("app ")[1].split(" ")[0] for r in warnings) == [
        "'legacy-crm'",
        "'old-crm'",
    ]
    assert all(actor.project_id in r.getMessage() for r in warnings)
    assert "X-Evil" not in caplog.text and "(SG)" not in caplog.text

    service.apps.replace(actor, "old-crm", acme(key="old-crm", name="Old CRM"))
    assert service.credentials.resolve(actor, connection.id).base_url == "https://api.acme.test"
    service.apps.delete(actor, "legacy-crm")
    assert all(a.problem is None for a in service.apps.list(actor))


@pytest.mark.parametrize("key", ["nothing-here", "../etc", "NOT A KEY", "x" * 300, ""])
def test_an_app_nobody_has_is_unknown(service: Service, actor: Actor, key: str) -> None:
    for call in (
        lambda: service.apps.get(actor, key),
        lambda: service.connections.create(
            actor, app=key, name="x", fields={"api_key": GOOD_SENDGRID}
        ),
    ):
        with pytest.raises(GatekeyError) as caught:
            call()
        assert caught.value.code == "unknown_app"


def test_a_stored_definition_that_is_not_an_object_fails_alone(
    service: Service, actor: Actor
) -> None:
    _store(service, actor, "odd-crm", ["not", "an", "object"])
    service.apps.add(actor, acme())

    listed = {a.key: a for a in service.apps.list(actor)}
    assert listed["acme-crm"].problem is None
    assert "(root): the stored definition is not a JSON object" in (listed["odd-crm"].problem or "")
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.get(actor, "odd-crm")
    assert caught.value.hint == Hint("replace_app", {"key": "odd-crm"})
    assert service.apps.get(actor, "acme-crm").name == "Acme CRM"


def test_a_project_row_under_a_catalog_key_is_never_used(service: Service, actor: Actor) -> None:
    _store(service, actor, "sendgrid", stored_definition(app_from_data(acme(), "acme")))
    assert service.apps.get(actor, "sendgrid").name == "SendGrid"
    assert [a.source for a in service.apps.list(actor) if a.key == "sendgrid"] == ["builtin"]
