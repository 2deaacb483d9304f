"""What the browser tests share: the served Gatekey they drive, and screenshots of its states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

from gatekey.runtime import Runtime
from gatekey.service import Actor

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass
class Served:
    """A Gatekey served over HTTP in demo mode, and a link that signs its operator in."""

    url: str
    runtime: Runtime
    actor: Actor
    signin_link: str


def shot(page: Page, name: str) -> None:
    """Save a screenshot of a main state as a test artifact (``artifacts/screenshots``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9-]', '-', name)}.png"))
