"""A small OAuth2 authorization server for demos and tests, served under ``/sandbox``.

Sign-in and consent page, authorization code with PKCE (S256), refresh with rotation,
client credentials, revocation (RFC 7009), a "who am I" API, and operator controls that revoke
grants, make the token endpoint fail (500, 429 with ``Retry-After``, slow) and shorten token
lifetimes. State lives in the process: one sandbox serves every Gatekey process of a test.
"""

from gatekey.oauth.sandbox.app import sandbox_app_definition
from gatekey.oauth.sandbox.server import SandboxState, create_sandbox_app, sandbox_router

__all__ = ["SandboxState", "create_sandbox_app", "sandbox_app_definition", "sandbox_router"]
