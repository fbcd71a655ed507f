#!/usr/bin/env node
/**
 * The demo identity provider: oidc-provider on 127.0.0.1 with a sign-in form of its own.
 *
 *   node idp.mjs [--port 9400] [--api-url http://127.0.0.1:9401] [--jupyter-port 8888 ...] [--redirect-uri URI ...]
 *
 * Env defaults: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_JUPYTER_PORTS (comma-separated), DEMO_REDIRECT_URIS
 * (comma-separated). Prints one JSON line `{"ready":true,"issuer":…}` on stdout when listening; logs (never
 * token material) go to stderr.
 */

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { handleInteraction } from './lib/interactions.mjs';
import { providerConfig, redirectUris } from './lib/providerConfig.mjs';

const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.DEMO_IDP_PORT ?? '9400' },
    'api-url': { type: 'string' },
    'jupyter-port': { type: 'string', multiple: true },
    'redirect-uri': { type: 'string', multiple: true }
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
const issuer = `http://${HOST}:${port}`;

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

const provider = new Provider(
  issuer,
  providerConfig({
    apiUrl,
    redirectUris: redirectUris(jupyterPorts, extraRedirectUris),
    jwks: { keys: [signingKey] },
    cookieKeys: [randomBytes(32).toString('hex')]
  })
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

const handleOidc = provider.callback();
const server = createServer((req, res) => {
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

server.listen(port, HOST, () => {
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
