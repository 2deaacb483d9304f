"""The id and secret of a project's OAuth client, for the token and revocation requests made
with it (RFC 6749 section 2.3)."""

from __future__ import annotations

from gatekey.crypto.vault import Vault
from gatekey.errors import OAuthClientMissing
from gatekey.oauth.credentials import ClientCredentials
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed
from gatekey.store.database import Database


class ClientSecrets:
    """``(project id, client row id) -> ClientCredentials``, the secret decrypted."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    def __call__(self, project_id: str, oauth_client_id: str) -> ClientCredentials:
        with self._db.read() as conn:
            row = oauth_rows.client_by_id(conn, project_id, oauth_client_id)
        if row is None:
            raise OAuthClientMissing(
                "the OAuth client this connection was made with is gone; register one and reconnect"
            )
        secret = self._vault.open(project_id, oauth_client_id, sealed.sealed_of(row))
        return ClientCredentials(row.client_id, str(secret["client_secret"]))
