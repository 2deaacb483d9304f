"""``service.credential_checks``: what new credentials go through before they are sealed. An
OAuth2 app is refused with the next step (start an authorization); fields and config are checked
before any request; the app's test request finds the account label, and a refusal stores
nothing, with anything the provider echoes of the secret masked; an unreachable provider is not
a refusal; a replacement keeps what it is not given."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gatekey.catalog.schema import App
from gatekey.errors import (
    CredentialsRejected,
    DuplicateName,
    GatekeyError,
    Hint,
    InvalidFields,
    ProviderUnavailable,
)
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.oauth_apis import FakeOAuthApi, oauth_app
from tests.fakes.providers import (
    GOOD_SENDGRID,
    GOOD_STRIPE,
    TWILIO_SID,
    FakeProviders,
    sendgrid_connection,
    twilio_connection,
)
from tests.fakes.rows import count


def test_account_label_comes_from_the_test_request(service: Service, actor: Actor) -> None:
    stripe = service.connections.create(
        actor, app="stripe", name="Stripe", fields={"api_key": GOOD_STRIPE}
    )
    twilio = twilio_connection(service, actor)
    assert stripe.account_label == "billing@acme.test"
    assert twilio.account_label == "Acme Twilio"
    assert twilio.fields["account_sid"] == TWILIO_SID


def test_rejected_credentials_store_nothing(service: Service, actor: Actor) -> None:
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(
            actor, app="sendgrid", name="Bad", fields={"api_key": "SG.wrong.CANARYwrong"}
        )
    assert caught.value.message == (
        "SendGrid rejected the credentials (HTTP 401): authorization required"
    )
    assert count(service, connections) == 0


def test_provider_message_is_scrubbed_of_the_secret(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.accepted.clear()
    providers.echo = True  # the provider repeats the key it was sent
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(
            actor, app="stripe", name="Stripe", fields={"api_key": "sk_test_CANARYx"}
        )
    assert caught.value.message.endswith("Invalid API Key provided: ••••")  # its words stay
    shown = caught.value.message + repr(caught.value) + str(caught.value.details)
    assert "CANARY" not in shown
    assert count(service, connections) == 0


@pytest.mark.parametrize("failure", ["outage", "unreachable"])
def test_unavailable_provider_is_not_invalid_credentials(
    service: Service, actor: Actor, providers: FakeProviders, failure: str
) -> None:
    setattr(providers, failure, True)
    with pytest.raises(ProviderUnavailable):
        sendgrid_connection(service, actor)
    assert count(service, connections) == 0


def test_skip_test_stores_without_asking(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.unreachable = True
    created = sendgrid_connection(service, actor, validate=False)
    assert created.status == "active"
    assert providers.requests == []


def test_config_alone_can_change_and_keeps_the_secret(service: Service, actor: Actor) -> None:
    created = service.connections.create(
        actor,
        app="zendesk",
        auth_kind="custom",
        name="Zendesk",
        fields={"email": "ops@acme.test", "api_token": "CANARYzendesk1"},
        config={"subdomain": "acme"},
        validate=False,
    )
    moved = service.connections.update(
        actor, created.id, config={"subdomain": "acme-eu"}, validate=False
    )
    assert moved.config == {"subdomain": "acme-eu"}
    creds = service.credentials.resolve(actor, created.id)
    assert creds.base_url == "https://acme-eu.zendesk.com/api/v2"
    assert creds.fields["api_token"] == "CANARYzendesk1"
    with pytest.raises(InvalidFields):
        service.connections.update(actor, created.id, config={"subdomain": "a/b"}, validate=False)
    assert service.connections.get(actor, created.id).config == {"subdomain": "acme-eu"}


def test_code_grant_apps_cannot_be_created_with_fields(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    with pytest.raises(GatekeyError) as caught:
        service.connections.create(
            actor, app="github", name="x", fields={"access_token": "gho_CANARY"}
        )
    assert caught.value.code == "invalid_input"
    assert "consent screen" in caught.value.message
    assert caught.value.hint is not None
    assert (caught.value.hint.action, caught.value.hint.params) == (
        "start_authorization",
        {"app": "github"},
    )
    assert "CANARY" not in caught.value.message + str(caught.value.details)
    assert count(service, connections) == 0
    assert providers.requests == []


@pytest.mark.parametrize(
    ("app", "fields", "config", "field"),
    [
        ("sendgrid", {}, None, "fields.api_key"),
        ("sendgrid", {"api_key": "SG.a.CANARY", "extra": "x"}, None, "fields.extra"),
        ("zendesk", {"email": "a@b.test", "api_token": "CANARY"}, {}, "config.subdomain"),
        (
            "zendesk",
            {"email": "a@b.test", "api_token": "CANARY"},
            {"subdomain": "a/b"},
            "config.subdomain",
        ),
    ],
)
def test_fields_and_config_are_checked_before_any_request(
    service: Service,
    actor: Actor,
    providers: FakeProviders,
    app: str,
    fields: dict[str, str],
    config: dict[str, str] | None,
    field: str,
) -> None:
    kind = "custom" if app == "zendesk" else None
    with pytest.raises(InvalidFields) as caught:
        service.connections.create(
            actor, app=app, auth_kind=kind, name="x", fields=fields, config=config
        )
    named = [e["field"] for e in caught.value.details["errors"]]
    assert field in named
    assert "CANARY" not in caught.value.message + str(caught.value.details)
    assert providers.requests == []
    assert count(service, connections) == 0


def test_offline_the_error_names_the_host_the_cause_and_saving_without_checking(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.unreachable = True
    with pytest.raises(ProviderUnavailable) as caught:
        sendgrid_connection(service, actor)
    error = caught.value
    assert error.message == (
        "could not reach api.sendgrid.com: no network; try again later, or save it without checking"
    )
    assert error.hint == Hint("skip_test", {"app": "sendgrid"})
    assert error.details["host"] == "api.sendgrid.com"
    assert count(service, connections) == 0


def test_replacing_credentials_offline_offers_the_same_way_out_and_keeps_the_old_ones(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = sendgrid_connection(service, actor)
    providers.unreachable = True
    with pytest.raises(ProviderUnavailable) as caught:
        service.connections.replace_credentials(
            actor, created.id, fields={"api_key": "SG.new.CANARYoffline0005"}
        )
    assert caught.value.hint == Hint("skip_test", {"app": "sendgrid"})
    assert "CANARY" not in caught.value.message
    kept = service.connections.get(actor, created.id)
    assert kept.version == created.version and kept.verified_at == created.verified_at


def test_a_provider_answering_503_offers_saving_without_checking_too(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    providers.outage = True
    with pytest.raises(ProviderUnavailable) as caught:
        sendgrid_connection(service, actor)
    assert caught.value.message == (
        "SendGrid answered 503; try again later, or save it without checking"
    )
    assert caught.value.hint == Hint("skip_test", {"app": "sendgrid"})


def test_a_duplicate_name_is_refused_before_the_provider_is_asked(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    first = sendgrid_connection(service, actor, name="Mail")
    sendgrid_connection(service, actor, name="Other")
    providers.unreachable = True
    asked = len(providers.requests)
    with pytest.raises(DuplicateName):
        sendgrid_connection(service, actor, name="mail")
    with pytest.raises(DuplicateName):
        service.connections.update(actor, first.id, name="OTHER", fields={"api_key": GOOD_SENDGRID})
    assert len(providers.requests) == asked, "offline, the name is what is wrong"


def test_a_client_credentials_token_without_expires_in_lasts_the_apps_default(
    settings: Settings,
) -> None:
    api = FakeOAuthApi()
    definition = oauth_app(
        "machine",
        kind="oauth2_client_credentials",
        fields={
            "required": ["client_id", "client_secret"],
            "properties": {
                "client_id": {"title": "Client ID"},
                "client_secret": {"title": "Client secret", "secret": True},
            },
        },
        oauth2={"authorization_url": None, "default_token_lifetime_seconds": 900},
    )
    runtime = open_runtime(
        settings,
        transport=api.transport(),
        extra_apps=[App.model_validate(definition)],
        migrate=False,
    )
    try:
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        created = runtime.service.connections.create(
            actor,
            app="machine",
            name="Machine",
            auth_kind="oauth2_client_credentials",
            fields={"client_id": "c", "client_secret": "CANARY-s"},
        )
        assert created.expires_at is not None and created.last_refreshed_at is not None
        assert created.expires_at - created.last_refreshed_at == timedelta(seconds=900)
    finally:
        runtime.close()
