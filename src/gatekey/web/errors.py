"""How the pages answer a refusal: fragments get JSON for the page's script, pages a status.

The page scripts (``static/app.js``) read ``{"ok": false, "code", "message", "fields", "next"}``
and show the message beside the form; ``next`` is the hint's action, for a step the form can
take itself ("Save without checking" for ``skip_test``). A page that needs a signed-in person
answers with a redirect to the sign-in page instead (``SignInRequired``, raised by ``deps``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse

from gatekey.errors import DatabaseUnavailable, GatekeyError, InvalidFields, RateLimited


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page.

    Not a ``GatekeyError``: nobody outside the pages sees it, and the API's problem
    handlers must not answer it.
    """


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/connections"
    return RedirectResponse(f"/signin?next={target}", status_code=303)


NEXT_STEP = {
    "replace_app": "replace its definition on the Apps page",
    "start_authorization": "use Connect",
    "signin_link": "the operator prints a new link with 'gatekey signin-link'",
    "rotate_master_key": "the operator runs 'gatekey keys rotate'",
    "skip_test": "with the Save without checking button below",
    "force_delete": "the Delete dialog lists those flows and deletes it anyway",
    "reconnect": "use Reconnect",
}
"""A hint's next step (``errors.NEXT_STEPS``) as a person on these pages takes it."""


def message_of(exc: GatekeyError) -> str:
    """The message, and how to take its hint's next step from the pages."""
    if exc.hint is None:
        return exc.message
    return f"{exc.message} ({NEXT_STEP[exc.hint.action].format(**exc.hint.params)})"


def fragment_error(exc: GatekeyError, status: int = 400) -> JSONResponse:
    """The JSON a fragment route answers a refusal with (503 and ``Retry-After`` in an outage)."""
    body: dict[str, Any] = {"ok": False, "code": exc.code, "message": message_of(exc)}
    if exc.hint is not None:
        body["next"] = exc.hint.action  # the page's script offers some (Save without checking)
    if isinstance(exc, InvalidFields):
        body["fields"] = exc.details.get("errors", [])
    if isinstance(exc, DatabaseUnavailable):
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse(body, status_code=status)


def page_status(exc: GatekeyError, refused: int) -> int:
    """The status of a whole page that shows ``exc``: 503 in an outage, 429 when rate limited,
    ``refused`` otherwise."""
    if isinstance(exc, DatabaseUnavailable):
        return 503
    return 429 if isinstance(exc, RateLimited) else refused
