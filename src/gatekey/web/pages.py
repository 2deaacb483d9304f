"""Sign-in, the Connections pages and Settings, as the one router ``api/app.py`` includes.

The routes live in ``web/routes``, one module per page group; this module only keeps the
entry point the application includes, so that moving the routes changed nothing above them.
"""

from __future__ import annotations

from fastapi import APIRouter

from gatekey.web.routes import connections, settings, signin

router = APIRouter(include_in_schema=False)
for group in (signin, connections, settings):
    router.include_router(group.router)
