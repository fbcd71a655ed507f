#!/usr/bin/env node
/**
 * The protected demo API: answers only requests with a valid access token from the demo IdP.
 *
 *   node api.mjs [--port 9401] [--issuer http://127.0.0.1:9400] [--jupyter-port 8888 ...] [--cors-origin URL ...]
 *
 * Env defaults: DEMO_API_PORT, DEMO_IDP_PORT, DEMO_JUPYTER_PORT. Browsers may call it from JupyterLab (a
 * plugin such as the archive browser, `binder/archive-browser`), which is another origin: CORS allows
 * `http://127.0.0.1:<jupyter port>` and `http://localhost:<jupyter port>` and every `--cors-origin`, with the
 * `Authorization` header (a bearer token, never a cookie: no credentials mode). Routes:
 * - `GET /whoami`: who the token belongs to, its scope and expiry;
 * - `GET /items`: the demo archive (needs scope `demo:read`);
 * - `GET /health`: liveness, no token needed.
 * Prints one JSON line `{"ready":true,"url":…}` on stdout; logs (never tokens) go to stderr.
 */

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ARCHIVE_ITEMS } from './lib/archiveItems.mjs';
import {
  bearerVerifier,
  InsufficientScopeError,
  InvalidTokenError,
  requireScope
} from './lib/bearerAuth.mjs';
import { corsHeaders, isPreflight, preflightHeaders } from './lib/cors.mjs';
import { listenOrExit } from './lib/listen.mjs';
import { DEMO_API_SCOPE } from './lib/providerConfig.mjs';

const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.DEMO_API_PORT ?? '9401' },
    issuer: { type: 'string' },
    'jupyter-port': { type: 'string', multiple: true },
    'cors-origin': { type: 'string', multiple: true }
  }
});
const port = Number(values.port);
const url = `http://${HOST}:${port}`;
const issuer = values.issuer ?? `http://${HOST}:${process.env.DEMO_IDP_PORT ?? '9400'}`;
const verify = bearerVerifier({ issuer, audience: url });
const jupyterPorts = values['jupyter-port'] ?? [process.env.DEMO_JUPYTER_PORT ?? '8888'];
/** The browser origins allowed to call the API: JupyterLab's own, and any given. */
const allowedOrigins = new Set([
  ...jupyterPorts.flatMap(p => [`http://127.0.0.1:${p}`, `http://localhost:${p}`]),
  ...(values['cors-origin'] ?? [])
]);

/**
 * Writes one JSON log line to stderr.
 *
 * @param {Record<string, unknown>} fields - what happened; never token material.
 */
function log(fields) {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), service: 'demo-api', ...fields })}\n`
  );
}

/**
 * Sends a JSON body.
 *
 * @param {import('node:http').ServerResponse} res - the response.
 * @param {number} status - the HTTP status.
 * @param {unknown} body - the JSON value.
 * @param {Record<string, string>} [headers] - extra headers.
 */
function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    ...corsHeaders(res.req.headers.origin, allowedOrigins),
    ...headers
  });
  res.end(JSON.stringify(body));
}

/**
 * Turns an authentication failure into RFC 6750's answer.
 *
 * @param {import('node:http').ServerResponse} res - the response.
 * @param {unknown} err - what went wrong.
 */
function sendAuthError(res, err) {
  if (err instanceof InsufficientScopeError) {
    sendJson(
      res,
      403,
      { error: err.code, error_description: err.message },
      { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${err.scope}"` }
    );
  } else if (err instanceof InvalidTokenError) {
    sendJson(
      res,
      401,
      { error: err.code, error_description: err.message },
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' }
    );
  } else {
    log({ event: 'error', error: err instanceof Error ? err.message : String(err) });
    sendJson(res, 500, { error: 'server_error', error_description: 'the demo API failed' });
  }
}

/** @type {Record<string, (claims: import('jose').JWTPayload) => unknown>} */
const ROUTES = {
  '/whoami': claims => ({
    sub: claims.sub,
    preferred_username: claims.preferred_username ?? null,
    name: claims.name ?? null,
    scope: claims.scope ?? '',
    client_id: claims.client_id ?? null,
    expires_at: claims.exp
  }),
  '/items': claims => {
    requireScope(claims, DEMO_API_SCOPE);
    return { items: ARCHIVE_ITEMS };
  }
};

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', url);
  if (pathname === '/health' && req.method === 'GET') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  const route = ROUTES[pathname];
  if (route && isPreflight(req)) {
    const headers = preflightHeaders(req.headers.origin, allowedOrigins);
    res.writeHead(headers ? 204 : 403, headers ?? {});
    res.end();
    return;
  }
  if (!route) {
    sendJson(res, 404, { error: 'not_found', error_description: `no route ${pathname}` });
    return;
  }
  if (req.method !== 'GET') {
    sendJson(
      res,
      405,
      { error: 'method_not_allowed', error_description: 'only GET' },
      { Allow: 'GET' }
    );
    return;
  }
  verify(req.headers.authorization)
    .then(claims => {
      const body = route(claims);
      log({ event: 'request', path: pathname, sub: claims.sub, status: 200 });
      sendJson(res, 200, body);
    })
    .catch(err => {
      log({ event: 'request', path: pathname, status: err?.code ?? 'error' });
      sendAuthError(res, err);
    });
});

listenOrExit(server, { port, host: HOST, name: 'demo API', hint: 'pass --port N' }, () => {
  process.stdout.write(`${JSON.stringify({ ready: true, url, issuer, pid: process.pid })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
