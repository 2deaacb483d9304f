"""The Flows, Runs and Apps pages, as the one router ``api/app.py`` includes.

The routes live in ``web/routes`` (see ``web/pages.py`` for why this module stays).
"""

from __future__ import annotations

from fastapi import APIRouter

from gatekey.web.routes import apps, flows, runs

router = APIRouter(include_in_schema=False)
for group in (flows, runs, apps):
    router.include_router(group.router)
