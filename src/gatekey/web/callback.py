"""The OAuth callback page as ``api/app.py`` includes it; the route is ``web/routes/callback``."""

from gatekey.web.routes.callback import router

__all__ = ["router"]
