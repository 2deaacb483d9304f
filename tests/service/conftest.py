"""Fixtures the service's webhook and delivery tests share: a loopback receiver and a runtime on
the real transport (the receiver is on loopback, which the suite allows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
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
