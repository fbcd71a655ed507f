/**
 * The broker as it ships (`packages/broker/dist/token-broker.mjs`), started as the Jupyter server
 * extension starts it: a 0700 directory holding a 0600 config and key, a 0600 unix socket, and
 * `node <BROKER_NODE_FLAGS> token-broker.mjs serve --config … --key-file … --socket …`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { CLIENT_ID, SCOPES } from './idp.mjs';
import { privateDir, startReady, writePrivate } from './processes.mjs';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The broker under test; `BENCH_BROKER_BUNDLE` names another build (to compare before/after). */
export const BUNDLE =
  process.env.BENCH_BROKER_BUNDLE ?? join(REPO, 'packages/broker/dist/token-broker.mjs');
/** Where the flags the server extension starts the broker with are listed (their one source). */
const NODE_FLAGS_FILE = join(REPO, 'packages/labextension/jupyter_token_broker/node_flags.py');

/**
 * The Node.js flags the server extension puts before the broker's script (`BROKER_NODE_FLAGS` of
 * `jupyter_token_broker/node_flags.py`), read once by running that file with the project's Python.
 */
export const NODE_FLAGS = JSON.parse(
  execFileSync(
    existsSync(join(REPO, '.venv/bin/python')) ? join(REPO, '.venv/bin/python') : 'python3',
    [
      '-c',
      'import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])["BROKER_NODE_FLAGS"]))',
      NODE_FLAGS_FILE
    ],
    { encoding: 'utf8' }
  )
);
/** The redirect URI the broker is told to use for logins started over its socket (a name only: nothing listens). */
export const REDIRECT_URI = 'http://127.0.0.1:9869/token-broker/api/v1/callback';

/**
 * Writes a broker's run directory.
 *
 * @param {object} options - `issuer`, `store` (config section, default memory), `name`, `key`
 *   (default: a new random one), `auditFile` (default false: the audit trail in memory only).
 * @returns {{dir: string, socket: string, key: string, args: string[]}} the paths and the command
 *   line after `node` ({@link NODE_FLAGS} first).
 */
export function brokerRunDir({
  issuer,
  store = { type: 'memory' },
  name = 'broker',
  key = randomBytes(32).toString('base64url'),
  auditFile = false
}) {
  const dir = privateDir(name);
  const config = {
    providers: [
      {
        id: 'demo',
        title: 'Bench IdP',
        kind: 'oidc',
        issuer,
        client_id: CLIENT_ID,
        scopes: SCOPES,
        redirect_uri: null
      }
    ],
    store,
    // As the server extension configures it by default: a JSON-lines file (else memory only).
    audit: { path: auditFile ? join(dir, 'audit.jsonl') : null }
  };
  writePrivate(join(dir, 'config.json'), JSON.stringify(config));
  writePrivate(join(dir, 'key'), key + '\n');
  const socket = join(dir, 'broker.sock');
  return {
    dir,
    socket,
    key,
    args: [
      ...NODE_FLAGS,
      BUNDLE,
      'serve',
      '--config',
      join(dir, 'config.json'),
      '--key-file',
      join(dir, 'key'),
      '--socket',
      socket
    ]
  };
}

/**
 * Starts a broker process.
 *
 * @param {object} options - as for {@link brokerRunDir}.
 * @returns {Promise<object>} the run directory's fields plus the running process (`startReady`).
 */
export async function startBroker(options) {
  const run = brokerRunDir(options);
  const process_ = await startReady(process.execPath, run.args);
  return { ...run, ...process_ };
}

/**
 * The headers the server extension adds to a kernel's token request.
 *
 * @param {string} key - the broker key.
 * @returns {Record<string, string>} the headers.
 */
export function trustedHeaders(key) {
  return {
    'X-Broker-Key': key,
    'X-Broker-User': 'alice',
    'X-Broker-Caller': 'owner',
    'X-Broker-Client': 'kernel'
  };
}

/**
 * One request over a unix socket.
 *
 * @returns {Promise<{status: number, text: string, json: any}>} the answer.
 */
export function socketRequest(socketPath, method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', chunk => (text += chunk));
      res.on('end', () => {
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, text, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/**
 * A kernel's token request to a broker.
 *
 * @param {{socket: string, key: string}} broker - the broker.
 * @param {object} [body] - the request body (default `{min_ttl: 60}`, as the kernel helper sends).
 * @returns {Promise<object>} the answer.
 */
export function tokenRequest(broker, body = { min_ttl: 60 }) {
  return socketRequest(
    broker.socket,
    'POST',
    '/api/v1/providers/demo/token',
    { ...trustedHeaders(broker.key), 'Content-Type': 'application/json' },
    JSON.stringify(body)
  );
}

/**
 * Signs `alice` in through a broker, as a person would through the panel's popup.
 *
 * @param {{socket: string, key: string}} broker - the broker.
 * @param {object} idp - the benchmark IdP.
 */
export async function signIn(broker, idp) {
  const headers = {
    ...trustedHeaders(broker.key),
    'X-Broker-Client': 'jupyterlab',
    'X-Broker-Redirect-Uri': REDIRECT_URI,
    'Content-Type': 'application/json'
  };
  const started = await socketRequest(
    broker.socket,
    'POST',
    '/api/v1/providers/demo/login',
    headers,
    '{}'
  );
  if (started.status !== 200) throw new Error(`login did not start: ${started.text}`);
  const redirect = await idp.authorize(started.json.authorization_url);
  const done = await socketRequest(broker.socket, 'GET', `/api/v1/callback${redirect.search}`, {
    ...trustedHeaders(broker.key),
    Accept: 'application/json'
  });
  if (done.status !== 200) throw new Error(`login did not complete: ${done.text}`);
}
