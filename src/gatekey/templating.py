"""HTML pages that load nothing from anywhere but Gatekey: Jinja2 templates and the headers.

The people-facing pages (``web``), the API's page for a browser during an outage and the
sandbox's consent page all answer with these headers; each keeps its templates in its own
package, so none imports another to render.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'{form_targets}; "
    "frame-ancestors 'none'"
)


class Templates:
    """The templates of one package (its ``templates/`` folder), autoescaped."""

    def __init__(self, package: str) -> None:
        self._env = Environment(
            loader=PackageLoader(package, "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )

    def render(self, template: str, **context: Any) -> str:
        """Render a fragment (a card, a form) for a page's script to insert."""
        return self._env.get_template(template).render(**context)

    def page(
        self,
        template: str,
        status: int = 200,
        *,
        form_targets: str = "",
        referrer: str = "same-origin",
        **context: Any,
    ) -> HTMLResponse:
        """Render a template as a page that loads nothing from anywhere but Gatekey.

        ``form_targets`` adds origins a form may end up at (browsers apply ``form-action`` to
        the redirects after a submission too). The referrer policy is ``same-origin`` (browsers
        then send a real ``Origin`` on our own form posts); pages whose URL holds a code or
        state send none.
        """
        return HTMLResponse(
            self.render(template, **context),
            status_code=status,
            headers={
                "Content-Security-Policy": CSP.format(form_targets=form_targets),
                "Referrer-Policy": referrer,
                "Cache-Control": "no-store",
                "X-Frame-Options": "DENY",
            },
        )
