#!/usr/bin/env node
// panva's `oidc-provider` (pinned in /package.json; `npm ci`) as an RFC 8705 authorization
// server on HTTPS: client-credentials clients authenticating with `tls_client_auth` (a
// certificate from the test CA whose subject DN is the registered one) or
// `self_signed_tls_client_auth` (a self-signed certificate registered in the client's JWK
// set as `x5c`), every token bound to the certificate (`x5t#S256`), and token introspection
// (RFC 7662) for a resource server with a client secret.
//
// oidc-provider leaves reading the TLS connection to its host: `getCertificate` answers the
// certificate Node's TLS socket received, `certificateAuthorized` whether it chains to the
// CA given, `certificateSubjectMatches` compares the subject DN.
//
// Usage: node tests/fakes/oidc_mtls_provider.mjs '{"cert", "key", "ca", "clients": [...]}'
// prints {"issuer": "https://127.0.0.1:N"} and exits when stdin closes.

import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2]);
const server = createServer({
  cert: config.cert,
  key: config.key,
  ca: config.ca,
  requestCert: true,
  rejectUnauthorized: false, // self-signed client certificates are the client's to prove
});

function presented(ctx) {
  const peer = ctx.socket.getPeerCertificate();
  return peer && peer.raw ? new X509Certificate(peer.raw) : undefined;
}

server.listen(0, '127.0.0.1', () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    scopes: ['api:read'],
    clientAuthMethods: ['client_secret_basic', 'tls_client_auth', 'self_signed_tls_client_auth'],
    cookies: { keys: ['gatekey-tests-only'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: presented,
        certificateAuthorized: (ctx) => ctx.socket.authorized === true,
        certificateSubjectMatches: (ctx, property, expected) => (
          property === 'tls_client_auth_subject_dn' && presented(ctx)?.subject === expected
        ),
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
