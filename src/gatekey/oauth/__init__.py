"""OAuth2 for connections: the provider's endpoints through Authlib (``provider``), the
authorization-code flow with its sessions and callback (``flow``), refresh once per expiry
(``refresh``), revocation on delete, background refresh, and a sandbox authorization server.
"""
