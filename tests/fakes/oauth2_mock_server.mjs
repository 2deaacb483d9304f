#!/usr/bin/env node
// A real OAuth2 authorization server for the test suite, built on the npm package
// `oauth2-mock-server` (pinned in /package.json; install with `npm ci`).
//
// Usage: node tests/fakes/oauth2_mock_server.mjs [PORT] [--watch-stdin]
//
//   PORT           port to listen on (default 0: the OS picks one); always 127.0.0.1
//   --watch-stdin  exit when stdin closes (so the server dies with its parent)
//
// When listening it prints exactly one line of JSON to stdout:
//   {"issuer": "http://127.0.0.1:N", "port": N}
// and nothing else is ever written to stdout.
//
// The package's own endpoints (/authorize, /token, /userinfo, /revoke, /introspect,
// /jwks, /endsession, /.well-known/openid-configuration) are served unchanged except:
//   * a /token request that the package rejects with 400 application/problem+json
//     (PKCE mismatch, unknown grant_type, malformed body) is rewritten to an
//     RFC 6749 error body: {"error": "invalid_grant" | "unsupported_grant_type" |
//     "invalid_request", "error_description": "<package message>"};
//   * the scope requested at /authorize is carried into the token response (and the
//     access token's `scope` claim) of the authorization_code grant, and from there
//     to refresh_token grants of the refresh tokens it issued. The package alone
//     answers `"scope": "dummy"` unless the token request itself sends `scope`.
//
// Control endpoints (JSON in, JSON out), same server:
//   POST /_control/next-token-response {"status": 400, "body": {...}, "headers": {...}}
//        queue a one-shot override of the next token-endpoint response (FIFO)
//   POST /_control/token-ttl {"seconds": N | null}
//        expires_in and the JWT `exp` of every later token (null: package default 3600)
//   POST /_control/next-authorize-error {"error": "access_denied", "error_description": "..."}
//        the next /authorize redirects with this error instead of a code (state kept)
//   POST /_control/authorize-iss {"enabled": true}
//        add `iss` (RFC 9207) to authorization redirects (the package never does)
//   GET  /_control/stats   counters and a log of token and revocation requests
//   POST /_control/reset   clear all of the above

import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';
import { Events, OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';

const HOST = '127.0.0.1';

function parseArgs(argv) {
  const opts = { port: 0, watchStdin: false };
  for (const arg of argv) {
    if (arg === '--watch-stdin') opts.watchStdin = true;
    else if (/^\d+$/.test(arg)) opts.port = Number(arg);
    else throw new Error(`unexpected argument: ${arg}`);
  }
  return opts;
}

function freshState() {
  return {
    tokenTtl: null,
    tokenFaults: [],
    authorizeFaults: [],
    authorizeIss: false,
    scopeByCode: new Map(),
    scopeByRefreshToken: new Map(),
    stats: {
      token_requests: 0,
      grants: {},
      token_statuses: {},
      authorize_requests: 0,
      userinfo_requests: 0,
      revocation_requests: 0,
      introspection_requests: 0,
      token_log: [],
      revocation_log: [],
    },
  };
}

let state = freshState();

// ---------------------------------------------------------------- helpers

function formDecode(value) {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

// Client authentication as the client sent it (the package validates none of it).
function clientAuth(req, body) {
  const header = req.headers.authorization ?? '';
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (match) {
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    const id = sep === -1 ? decoded : decoded.slice(0, sep);
    const secret = sep === -1 ? '' : decoded.slice(sep + 1);
    return { method: 'client_secret_basic', client_id: formDecode(id), client_secret: formDecode(secret) };
  }
  if (body && typeof body.client_secret === 'string') {
    return { method: 'client_secret_post', client_id: body.client_id ?? null, client_secret: body.client_secret };
  }
  return { method: 'none', client_id: body?.client_id ?? null, client_secret: null };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseForm(raw) {
  return Object.fromEntries(new URLSearchParams(raw));
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(data));
  res.end(data);
}

function oauthErrorCode(detail) {
  if (/code_verifier|code_challenge/.test(detail)) return 'invalid_grant';
  if (/grant type/i.test(detail)) return 'unsupported_grant_type';
  return 'invalid_request';
}

// Scope granted to a token request, when the wrapper knows better than the package.
function grantedScope(body) {
  if (!body) return undefined;
  if (typeof body.scope === 'string') return body.scope;
  if (body.grant_type === 'authorization_code') return state.scopeByCode.get(body.code);
  if (body.grant_type === 'refresh_token') return state.scopeByRefreshToken.get(body.refresh_token);
  return undefined;
}

// ---------------------------------------------------------------- the OAuth2 service

const issuer = new OAuth2Issuer(false);
await issuer.keys.generate('RS256');
const service = new OAuth2Service(issuer);

service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const params = redirect.url.searchParams;
  const code = params.get('code');
  const scope = req.query?.scope;
  if (code !== null && typeof scope === 'string') state.scopeByCode.set(code, scope);
  const fault = state.authorizeFaults.shift();
  if (fault !== undefined) {
    params.delete('code');
    params.set('error', fault.error ?? 'access_denied');
    if (fault.error_description) params.set('error_description', fault.error_description);
  }
  if (state.authorizeIss) params.set('iss', issuer.url);
});

service.on(Events.BeforeTokenSigning, (token, req) => {
  // Emitted for the access token and, for code/password/refresh grants, the id token.
  if (state.tokenTtl !== null) token.payload.exp = token.payload.iat + state.tokenTtl;
  const scope = grantedScope(req.body);
  if (scope !== undefined && 'amr' in token.payload && 'scope' in token.payload) {
    token.payload.scope = scope;
  }
});

service.on(Events.BeforeResponse, (response, req) => {
  const body = response.body;
  const scope = grantedScope(req.body);
  if (scope !== undefined && 'access_token' in body) body.scope = scope;
  if (state.tokenTtl !== null && 'expires_in' in body) body.expires_in = state.tokenTtl;
  if (typeof body.refresh_token === 'string' && typeof body.scope === 'string') {
    state.scopeByRefreshToken.set(body.refresh_token, body.scope);
  }
  const fault = state.tokenFaults.shift();
  if (fault !== undefined) {
    response.statusCode = fault.status ?? 400;
    response.body = fault.body ?? { error: 'invalid_grant' };
    for (const [name, value] of Object.entries(fault.headers ?? {})) req.gatekeyRes.setHeader(name, value);
  }
});

// ---------------------------------------------------------------- control API

async function handleControl(req, res, path) {
  const raw = req.method === 'POST' ? await readBody(req) : '';
  const body = raw ? JSON.parse(raw) : {};
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'POST /_control/next-token-response':
      state.tokenFaults.push({ status: body.status, body: body.body, headers: body.headers });
      return sendJson(res, 200, { queued: state.tokenFaults.length });
    case 'POST /_control/token-ttl':
      state.tokenTtl = body.seconds === null || body.seconds === undefined ? null : Number(body.seconds);
      return sendJson(res, 200, { seconds: state.tokenTtl });
    case 'POST /_control/next-authorize-error':
      state.authorizeFaults.push({ error: body.error, error_description: body.error_description });
      return sendJson(res, 200, { queued: state.authorizeFaults.length });
    case 'POST /_control/authorize-iss':
      state.authorizeIss = Boolean(body.enabled);
      return sendJson(res, 200, { enabled: state.authorizeIss });
    case 'GET /_control/stats':
      return sendJson(res, 200, {
        ...state.stats,
        pending_token_faults: state.tokenFaults.length,
        pending_authorize_faults: state.authorizeFaults.length,
        token_ttl: state.tokenTtl,
      });
    case 'POST /_control/reset':
      state = freshState();
      return sendJson(res, 200, { reset: true });
    default:
      return sendJson(res, 404, { error: 'unknown control route', route });
  }
}

// ---------------------------------------------------------------- HTTP wrapper

// Wrap res.end on /token so that counting happens synchronously before the client can
// see the response, and package problem+json errors become RFC 6749 errors.
function instrumentToken(req, res) {
  state.stats.token_requests += 1;
  req.gatekeyRes = res;
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    let out = chunk;
    const type = String(res.getHeader('content-type') ?? '');
    if (res.statusCode === 400 && type.startsWith('application/problem+json') && chunk) {
      let detail = 'invalid request';
      try {
        detail = JSON.parse(chunk.toString()).detail ?? detail;
      } catch {
        // keep the default
      }
      out = JSON.stringify({ error: oauthErrorCode(detail), error_description: detail });
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(out));
    }
    const grant = typeof req.body?.grant_type === 'string' ? req.body.grant_type : 'unparsed';
    const { stats } = state;
    stats.grants[grant] = (stats.grants[grant] ?? 0) + 1;
    stats.token_statuses[res.statusCode] = (stats.token_statuses[res.statusCode] ?? 0) + 1;
    stats.token_log.push({
      grant_type: grant,
      status: res.statusCode,
      client_auth: clientAuth(req, req.body),
      params: req.body ?? null,
    });
    return end(out, ...rest);
  };
}

async function handle(req, res) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/(.)\/$/, '$1');
  if (path.startsWith('/_control/')) return handleControl(req, res, path);
  const { stats } = state;
  if (req.method === 'POST' && path === '/token') instrumentToken(req, res);
  else if (req.method === 'GET' && path === '/authorize') stats.authorize_requests += 1;
  else if (req.method === 'GET' && path === '/userinfo') stats.userinfo_requests += 1;
  else if (req.method === 'POST' && path === '/introspect') stats.introspection_requests += 1;
  else if (req.method === 'POST' && path === '/revoke') {
    // The package's revoke handler never reads the body, so it is safe to consume here.
    const body = parseForm(await readBody(req));
    stats.revocation_requests += 1;
    stats.revocation_log.push({ params: body, client_auth: clientAuth(req, body) });
  }
  return service.requestHandler(req, res);
}

const opts = parseArgs(process.argv.slice(2));
const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`oauth2_mock_server: ${err?.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err) });
    else res.end();
  });
});
// Longer than any client pool expiry (httpx: 5 s), so idle connections are closed by the
// client, never under a request it is just sending.
server.keepAliveTimeout = 60_000;

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (opts.watchStdin) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}

server.listen(opts.port, HOST, () => {
  const { port } = server.address();
  issuer.url = `http://${HOST}:${port}`;
  process.stdout.write(`${JSON.stringify({ issuer: issuer.url, port })}\n`);
});
