"""The sign-in redirect as ``api/app.py`` installs it; sessions and CSRF are ``web/deps``."""

from gatekey.web.errors import SignInRequired, to_sign_in

__all__ = ["SignInRequired", "to_sign_in"]
