#!/usr/bin/env node
// A certified OpenID Connect / OAuth 2.0 authorization server for the test suite: panva's
// `oidc-provider` (pinned in /package.json; install with `npm ci`), with its development
// login and consent pages. It puts `iss` on every authorization response (RFC 9207) and says
// so in its discovery document (authorization_response_iss_parameter_supported: true).
//
// Usage: node tests/fakes/oidc_provider.mjs '{"client_id": ..., "client_secret": ...,
//                                             "redirect_uri": ...}'
// Listens on 127.0.0.1 on a port the OS picks, prints one line of JSON to stdout:
//   {"issuer": "http://127.0.0.1:N"}
// and exits when stdin closes (so it dies with its parent).

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const client = JSON.parse(process.argv[2]);
const server = createServer();

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: [client.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access'],
    cookies: { keys: ['gatekey-tests-only'] },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
