"""``service.budgets``: the per-minute budgets. A spent budget refuses with ``rate_limited`` and
how long to wait; an API key's credential reads spend its key's and its project's budget, and a
refused read counts against neither; an address's failed API-key attempts refuse even a good
key from there; the local operator has no budget; a budget of 0 is off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gatekey.errors import AuthenticationFailed, RateLimited
from gatekey.service import Actor, Service
from tests.fakes.providers import sendgrid_connection

Limited = Callable[..., Service]


def _project(service: Service) -> tuple[Actor, str]:
    """The operator of the default project and a connection to read."""
    project, _ = service.system.bootstrap()
    operator = Actor.operator(project.id)
    return operator, sendgrid_connection(service, operator, validate=False).id


def _worker(service: Service, operator: Actor) -> Actor:
    return service.system.authenticate(
        service.access.create_key(operator, name="worker", role="runtime").token
    )


def _refused(call: Callable[[], object]) -> RateLimited:
    with pytest.raises(RateLimited) as caught:
        call()
    assert caught.value.code == "rate_limited"
    retry_after = caught.value.details["retry_after"]
    assert 0 < retry_after <= 60
    return caught.value


def test_reads_spend_the_keys_then_the_projects_budget(limited: Limited) -> None:
    service = limited(rate_resolve_per_key=2, rate_resolve_per_project=3)
    operator, connection = _project(service)
    first, second = _worker(service, operator), _worker(service, operator)

    service.credentials.resolve(first, connection)
    service.credentials.resolve(first, connection)
    by_key = _refused(lambda: service.credentials.resolve(first, connection))
    assert "credential requests for this API key (at most 2 a minute)" in by_key.message
    service.credentials.resolve(second, connection)  # the refused read spent nothing
    by_project = _refused(lambda: service.credentials.resolve(second, connection))
    assert "credential requests in this project (at most 3 a minute)" in by_project.message

    refused = [
        e.detail
        for e in service.audit.events(operator, object_id=connection)
        if e.outcome == "refused"
    ]
    assert refused == [{"code": "rate_limited"}] * 2


def test_the_local_operator_has_no_budget(limited: Limited) -> None:
    service = limited(rate_resolve_per_key=1, rate_resolve_per_project=1)
    operator, connection = _project(service)
    for _ in range(5):
        service.credentials.resolve(operator, connection)
    worker = _worker(service, operator)
    service.credentials.resolve(worker, connection)
    _refused(lambda: service.credentials.resolve(worker, connection))


def test_a_budget_of_zero_is_off(limited: Limited) -> None:
    service = limited(rate_resolve_per_key=0, rate_resolve_per_project=0)
    operator, connection = _project(service)
    worker = _worker(service, operator)
    for _ in range(20):
        service.credentials.resolve(worker, connection)


def test_an_address_past_its_failures_is_refused_even_with_a_good_key(limited: Limited) -> None:
    service = limited(rate_auth_failures_per_client=2)
    operator, connection = _project(service)
    good = service.access.create_key(operator, name="worker", role="runtime").token
    worker = service.system.authenticate(good)  # this process knows the key now

    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            service.system.authenticate("gk_wrong", client="203.0.113.9")
    refused = _refused(lambda: service.system.authenticate(good, client="203.0.113.9"))
    assert refused.message.startswith("too many failed API-key attempts from this address")
    unknown = _refused(lambda: service.system.authenticate("gk_other", client="203.0.113.9"))
    assert unknown.message == refused.message  # the same whether the key exists or not
    # A request that spends a budget leaves the look at its address to that one limiter call.
    late = service.system.authenticate(good, client="203.0.113.9", peek=False)
    _refused(lambda: service.credentials.resolve(late, connection))
    assert service.system.authenticate(good, client="198.51.100.7").key_id == worker.key_id
