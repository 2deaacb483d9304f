"""Fixtures the service's tests share: a loopback receiver and a runtime on the real transport
(the receiver is on loopback, which the suite allows), for the webhook and delivery tests; a
service with tighter budgets, for the budget and sign-in tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.fakes.receiver import Receiver, receiver


@pytest.fixture
def hub() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[Service, Actor, Runtime]]:
    """The real transport (the receiver is on loopback, which the suite allows)."""
    runtime = open_runtime(settings)
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id), runtime
    runtime.close()


@pytest.fixture
def limited(settings: Settings, providers: FakeProviders) -> Iterator[Callable[..., Service]]:
    """Open a service with tighter per-minute budgets: ``limited(rate_resolve_per_key=2)``."""
    opened: list[Runtime] = []

    def open_with(**rates: int) -> Service:
        runtime = open_runtime(
            settings.model_copy(update=rates), transport=providers.transport(), migrate=False
        )
        opened.append(runtime)
        return runtime.service

    yield open_with
    for runtime in opened:
        runtime.close()
