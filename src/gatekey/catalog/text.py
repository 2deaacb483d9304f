"""Text an app definition may hold in headers, URLs and parameters.

Definitions come from operators' files and from project admins, so header names and values,
URLs and extra parameters are checked for CR, LF and other control characters here
(``gatekey.domain.headers``), where a refusal names the field.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from gatekey.domain import headers

#: A header-name template: the text around its ``{placeholders}`` is an RFC 9110 token.
HeaderNameTemplate = Annotated[str, AfterValidator(headers.check_name_template)]
#: A header-value template: the text around its ``{placeholders}`` is visible ASCII.
HeaderValueTemplate = Annotated[str, AfterValidator(headers.check_value_template)]
#: A URL template, a query or form parameter: no CR, LF or other control character.
PlainText = Annotated[str, AfterValidator(headers.check_no_control)]


def _check_params(params: dict[str, str]) -> dict[str, str]:
    for name, value in params.items():
        try:
            if not name:
                raise ValueError("a parameter name may not be empty")
            headers.check_no_control(name)
            headers.check_no_control(value)
        except ValueError as exc:
            raise ValueError(f"parameter {name!r}: {exc}") from None
    return params


def _check_headers(fields: dict[str, str]) -> dict[str, str]:
    for name, value in fields.items():
        try:
            headers.check_name(name)
            headers.check_value(value)
        except ValueError as exc:
            raise ValueError(f"header {name!r}: {exc}") from None
    return fields


Params = Annotated[dict[str, str], AfterValidator(_check_params)]
Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]
_PATH = re.compile(r"[A-Za-z0-9_@$:-]+(\.[A-Za-z0-9_@$:-]+)*")


def _check_path(path: str) -> str:
    if not _PATH.fullmatch(path):
        raise ValueError(f"{path!r} is not a dotted path (names and list indexes joined by dots)")
    return path


#: A dotted path into a JSON body: ``ok``, ``team.id``, ``0.tenantId``, ``errors.0.message``.
BodyPath = Annotated[str, AfterValidator(_check_path)]
