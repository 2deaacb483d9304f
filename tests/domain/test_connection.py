from __future__ import annotations

import pytest

from gatekey.domain.connection import clean_name, name_key
from gatekey.errors import InvalidName


def test_names_are_trimmed_and_case_insensitive_keys() -> None:
    assert clean_name("  SendGrid - Production ") == "SendGrid - Production"
    assert name_key("SendGrid") == name_key("SENDGRID")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, "tab\there", "zero\u200bwidth", 5])
def test_bad_names_are_refused(bad: object) -> None:
    with pytest.raises(InvalidName):
        clean_name(bad)
