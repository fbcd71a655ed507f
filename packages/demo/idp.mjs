#!/usr/bin/env node
/**
 * The demo identity provider: oidc-provider on 127.0.0.1 with a sign-in form of its own.
 *
 *   node idp.mjs [--port 9400] [--api-url http://127.0.0.1:9401] [--jupyter-port 8888 ...] [--redirect-uri URI ...]
 *                [--access-token-ttl 60]
 *
 * Env defaults: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_JUPYTER_PORTS (comma-separated), DEMO_REDIRECT_URIS
 * (comma-separated). Prints one JSON line `{"ready":true,"issuer":…}` on stdout when listening; logs (never
 * token material) go to stderr.
 */

// First: it keeps oidc-provider's known, inapplicable warnings out of the output (see the module).
import './lib/knownWarnings.mjs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { handleInteraction } from './lib/interactions.mjs';
import { listenOrExit } from './lib/listen.mjs';
import { allowJupyterProxyCallbacks, mountBehindJupyterProxy } from './lib/jupyterProxy.mjs';
import {
  ACCESS_TOKEN_TTL,
  providerConfig,
  redirectUris,
  withHubClient
} from './lib/providerConfig.mjs';
import { readFileSync } from 'node:fs';

const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.DEMO_IDP_PORT ?? '9400' },
    'api-url': { type: 'string' },
    'jupyter-port': { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true },
    // Seconds the demo clients' access tokens live (default 60): short ones show the refresh rules.
    'access-token-ttl': { type: 'string' },
    // A confidential JupyterHub client (OAuthenticator): its secret is read from a file, never from argv or env.
    'hub-redirect-uri': { type: 'string', multiple: true },
    'hub-client-secret-file': { type: 'string' },
    'hub-access-token-ttl': { type: 'string' },
    'hub-audience': { type: 'string', default: 'api' },
    // The issuer's host name (e.g. `localhost`, so a hub on 127.0.0.1 keeps its cookies apart); it listens on 127.0.0.1.
    'issuer-host': { type: 'string', default: HOST },
    // Also serve the browser through jupyter-server-proxy at {base_url}proxy/absolute/<port>/ (Binder).
    'jupyter-proxy': { type: 'boolean', default: process.env.DEMO_IDP_JUPYTER_PROXY === '1' }
  }
});

const port = Number(values.port);
const apiUrl = values['api-url'] ?? `http://${HOST}:${process.env.DEMO_API_PORT ?? '9401'}`;
const jupyterPorts = (
  values['jupyter-port'] ?? (process.env.DEMO_JUPYTER_PORTS ?? '8888').split(',')
)
  .map(p => Number(p.trim()))
  .filter(p => Number.isInteger(p) && p > 0);
const extraRedirectUris =
  values['redirect-uri'] ?? (process.env.DEMO_REDIRECT_URIS ?? '').split(',').filter(Boolean);
const issuer = `http://${values['issuer-host']}:${port}`;

/**
 * Writes one JSON log line to stderr.
 *
 * @param {Record<string, unknown>} fields - what happened; never token material.
 */
function log(fields) {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), service: 'demo-idp', ...fields })}\n`
  );
}

// Fresh keys on every start: nothing to commit, nothing to leak, and old tokens stop validating after a restart.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = {
  ...(await exportJWK(privateKey)),
  kid: randomBytes(8).toString('hex'),
  alg: 'RS256',
  use: 'sig'
};

const demoConfig = providerConfig({
  apiUrl,
  redirectUris: redirectUris(jupyterPorts, extraRedirectUris),
  jwks: { keys: [signingKey] },
  cookieKeys: [randomBytes(32).toString('hex')],
  accessTokenTtl: Number(values['access-token-ttl'] ?? ACCESS_TOKEN_TTL)
});
const provider = new Provider(
  issuer,
  values['hub-client-secret-file']
    ? withHubClient(demoConfig, {
        clientSecret: readFileSync(values['hub-client-secret-file'], 'utf8').trim(),
        redirectUris: values['hub-redirect-uri'] ?? [],
        accessTokenTtl: Number(values['hub-access-token-ttl'] ?? 60),
        audience: values['hub-audience'] === 'userinfo' ? 'userinfo' : 'api'
      })
    : demoConfig
);

// Event names only: the event arguments are tokens and codes.
for (const event of [
  'grant.success',
  'grant.error',
  'authorization.success',
  'authorization.error',
  'grant.revoked',
  'server_error'
]) {
  provider.on(event, (...args) => {
    const err = args.find(a => a instanceof Error);
    log({
      event,
      ...(err ? { error: err.name, error_description: err.error_description ?? err.message } : {})
    });
  });
}

// Which grant each issued token came from (hub tests count refreshes): no token material.
provider.on('grant.success', ctx => {
  log({
    event: 'token.issued',
    grant_type: ctx.oidc.params?.grant_type,
    client_id: ctx.oidc.client?.clientId
  });
});

if (values['jupyter-proxy']) {
  allowJupyterProxyCallbacks(provider, () => Provider.ctx?.req);
}

const handleOidc = provider.callback();
const server = createServer((req, res) => {
  if (values['jupyter-proxy']) {
    mountBehindJupyterProxy(req, res, port);
  }
  handleInteraction(provider, req, res)
    .then(handled => {
      if (!handled) {
        handleOidc(req, res);
      }
    })
    .catch(err => {
      log({ event: 'interaction.error', error: err.name, error_description: err.message });
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
      }
      res.end('server_error');
    });
});

listenOrExit(server, { port, host: HOST, name: 'demo IdP', hint: 'pass --port N' }, () => {
  process.stdout.write(
    `${JSON.stringify({ ready: true, issuer, resource: apiUrl, pid: process.pid })}\n`
  );
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
