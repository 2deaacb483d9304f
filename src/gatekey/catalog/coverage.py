"""Which facts of an entry its ``sources`` must back, and which they do not (yet).

Every built-in entry names the documentation behind where its API is and, per auth method,
how credentials are made (``setup``, ``fields``), applied and checked, and for OAuth2 its
endpoints, scopes and quirks; the catalog tests hold every entry to it.
"""

from __future__ import annotations

from gatekey.catalog.schema import CONSENT, App

_METHOD = ("apply", "test_request", "fields", "setup", "deprecated", "idle_expiry_days")
_OAUTH2 = (
    "authorization_url",
    "token_url",
    "refresh_url",
    "revocation_url",
    "issuer",
    "default_scopes",
    "pkce",
    "client_auth_method",
    "discovery",
    "default_token_lifetime_seconds",
)


#: Per recipe section, the facts a source must back when the entry sets them.
_RECIPES = {
    "oauth1": (
        "request_token_url", "authorization_url", "access_token_url", "signature_method",
        "realm", "flow",
    ),
    "assertion": ("assertion",),
    "signed_jwt": ("jwt", "lifetime_seconds"),
    "github_app": ("install_url", "token_url", "app_jwt"),
    "aws": ("service", "region", "assume_role"),
    "two_step": ("token_url", "params", "token_path", "expires_in_path", "expires_at_path"),
}  # fmt: skip


def required_facts(app: App) -> set[str]:
    """The facts of ``app`` a source must back."""
    needed = {"base_url"}
    for method in app.auth:
        kind = str(method.kind)
        for fact in _METHOD:
            value = getattr(method, fact)
            if fact == "fields":
                value = method.fields.properties if method.kind not in CONSENT else None
            if value not in (None, [], {}):
                needed.add(f"{kind}.{fact}")
        for section, facts in _RECIPES.items():
            spec = getattr(method, section)
            if spec is None:
                continue
            for fact in facts:
                value = spec if fact == section else getattr(spec, fact)
                if value not in (None, [], {}, ""):
                    needed.add(f"{kind}.{fact}")
        if method.oauth2 is not None:
            for fact in _OAUTH2:
                value = getattr(method.oauth2, fact)
                if fact == "pkce" or value not in (None, [], ""):
                    needed.add(f"{kind}.{fact}")
    return needed


def unsourced(app: App) -> list[str]:
    """The required facts no source of ``app`` backs, sorted."""
    backed = {fact for source in app.sources for fact in source.facts}
    return sorted(required_facts(app) - backed)
