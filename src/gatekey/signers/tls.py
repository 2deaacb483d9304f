"""Client certificates (mutual TLS) as ``ssl`` contexts, for the proxy and for executions that
call the app themselves.

``context`` builds the ``ssl.SSLContext`` that verifies servers as ``httpx2`` does by default
(its CA bundle, ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set) and presents the connection's
certificate. Python's ``ssl`` loads a certificate chain from files only: the PEM texts are
written to a private directory (mode 0700, files 0600), loaded, and removed before this
returns. A certificate and key that do not belong together, or are not PEM, are
``InvalidFields`` naming the field, never any part of either.

    creds = gk.resolve("conn_...")
    httpx2.get(url, auth=signers.httpx_auth(creds), verify=signers.tls_context(creds))
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import httpx2

from gatekey.errors import InvalidFields
from gatekey.signing import ClientTls


def context(identity: ClientTls, *, certificate_field: str = "certificate") -> ssl.SSLContext:
    """An SSL context presenting ``identity`` (module docstring)."""
    ctx = httpx2.create_ssl_context(verify=True, trust_env=True)
    with tempfile.TemporaryDirectory(prefix="gatekey-tls-") as folder:
        os.chmod(folder, 0o700)
        cert, key = Path(folder, "certificate.pem"), Path(folder, "key.pem")
        for path, text in ((cert, identity.certificate), (key, identity.private_key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(text.strip().replace("\\n", "\n") + "\n")
        try:
            ctx.load_cert_chain(str(cert), str(key))
        except ssl.SSLError:
            raise InvalidFields(
                f"{certificate_field} and its private key are not a PEM certificate and the "
                "key it was issued for",
                errors=[{"field": certificate_field, "message": "does not match the private key"}],
            ) from None
    return ctx
