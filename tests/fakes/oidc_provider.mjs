#!/usr/bin/env node
// A certified OpenID Connect / OAuth 2.0 authorization server for the test suite: panva's
// `oidc-provider` (pinned in /package.json; install with `npm ci`), with its development
// login and consent pages. It puts `iss` on every authorization response (RFC 9207) and says
// so in its discovery document (authorization_response_iss_parameter_supported: true).
//
// Usage: node tests/fakes/oidc_provider.mjs '{"client_id": ..., "client_secret": ...,
//                                             "redirect_uri": ...,
//                                             "key_client": {"client_id", "jwks"}}'
// ``key_client`` (optional) adds a client-credentials client that authenticates with
// private_key_jwt (RFC 7523 section 2.2), its public keys given as a JWK set.
// Listens on 127.0.0.1 on a port the OS picks, prints one line of JSON to stdout:
//   {"issuer": "http://127.0.0.1:N"}
// and exits when stdin closes (so it dies with its parent).

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const client = JSON.parse(process.argv[2]);
const server = createServer();

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const clients = [{
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: [client.redirect_uri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }];
  if (client.key_client) {
    clients.push({
      client_id: client.key_client.client_id,
      jwks: client.key_client.jwks,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: client.key_client.jwks.keys[0].alg,
      scope: 'api:read',
    });
  }
  const provider = new Provider(issuer, {
    clients,
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'api:read'],
    cookies: { keys: ['gatekey-tests-only'] },
    features: { devInteractions: { enabled: true }, clientCredentials: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
