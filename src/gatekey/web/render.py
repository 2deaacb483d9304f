"""The web's templates (``web/templates``), rendered as pages with Gatekey's security headers."""

from __future__ import annotations

from gatekey.templating import Templates

_templates = Templates("gatekey.web")
render = _templates.render
page = _templates.page
