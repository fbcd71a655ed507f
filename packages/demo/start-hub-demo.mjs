#!/usr/bin/env node
/**
 * Starts the hub demo (`make demo`): the demo IdP with a confidential client for the hub, the demo API, then a
 * real JupyterHub (configurable-http-proxy from npm, GenericOAuthenticator against the demo IdP,
 * SimpleLocalProcessSpawner) running `jupyter_token_broker.hub.configure(c)`. Log in once at the hub: every
 * notebook of every server of that user gets tokens of that login (`get_token("hub")`), with no second sign-in.
 *
 *   node packages/demo/start-hub-demo.mjs [--idp-port 9400] [--api-port 9401] [--hub-port 8000]
 *       [--state-dir .cache/hub-demo] [--venv .venv] [--token-ttl 120] [--log-file FILE]
 *
 * Env defaults: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_HUB_PORT, DEMO_HUB_STATE_DIR, DEMO_VENV, DEMO_LOG_FILE.
 * Everything the demo writes goes to the state directory (git-ignored): the hub's database and cookie secret,
 * a client secret and an auth_state key made afresh at each start (0600 files, never in an environment
 * variable), the users' homes (`home/<user>`, each with a copy of `packages/demo/hub/hub-demo.ipynb`).
 * The hub's internal ports (its API, the proxy's API) are free ports chosen at start.
 *
 * A taken port is named before anything starts; any failure stops everything started and says what in one
 * line; SIGINT/SIGTERM/SIGHUP stop the hub first (which stops the users' servers and the proxy), then the API
 * and the IdP (`lib/stack.mjs`).
 */

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOOPBACK, freePorts } from './lib/ports.mjs';
import { jsonReadyLine, runStack } from './lib/stack.mjs';

const DEMO_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = resolve(DEMO_DIR, '..', '..');
const HUB_CONFIG = join(DEMO_DIR, 'hub', 'jupyterhub_config.py');
const HUB_NOTEBOOK = join(DEMO_DIR, 'hub', 'hub-demo.ipynb');
const PROXY = join(REPO_DIR, 'node_modules', '.bin', 'configurable-http-proxy');
/** The demo IdP's users (packages/demo/lib/accounts.mjs), all with the password `demo`. */
const USERS = ['alice', 'bob'];
/** JupyterHub's line once the proxy routes to it. */
const HUB_READY = /JupyterHub is now running at/;

/**
 * Says one line about a mistake on the command line and exits 2.
 *
 * @param {string} message - what is wrong.
 * @returns {never}
 */
function usageError(message) {
  process.stderr.write(`[start-hub-demo] ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      'idp-port': { type: 'string', default: process.env.DEMO_IDP_PORT ?? '9400' },
      'api-port': { type: 'string', default: process.env.DEMO_API_PORT ?? '9401' },
      'hub-port': { type: 'string', default: process.env.DEMO_HUB_PORT ?? '8000' },
      'state-dir': {
        type: 'string',
        default: process.env.DEMO_HUB_STATE_DIR ?? join(REPO_DIR, '.cache', 'hub-demo')
      },
      venv: { type: 'string', default: process.env.DEMO_VENV ?? join(REPO_DIR, '.venv') },
      'token-ttl': { type: 'string', default: '120' },
      'log-file': { type: 'string', default: process.env.DEMO_LOG_FILE }
    }
  });
} catch (err) {
  usageError(err instanceof Error ? err.message : String(err));
}
const { values } = parsed;

/**
 * A port from the command line.
 *
 * @param {string} flag - the flag's name.
 * @returns {number} the port.
 */
function portOf(flag) {
  const port = Number(values[flag]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    usageError(`--${flag} must be a port number (1-65535), not '${values[flag]}'`);
  }
  return port;
}

const ports = { idp: portOf('idp-port'), api: portOf('api-port'), hub: portOf('hub-port') };
const tokenTtl = Number(values['token-ttl']);
if (!Number.isInteger(tokenTtl) || tokenTtl < 10) {
  usageError(
    `--token-ttl must be a whole number of seconds, at least 10, not '${values['token-ttl']}'`
  );
}
const stateDir = resolve(values['state-dir']);
const jupyterhub = join(values.venv, 'bin', 'jupyterhub');
if (!existsSync(jupyterhub)) {
  usageError(
    `no ${jupyterhub}: run 'make setup' first, or pass --venv DIR (a virtualenv with JupyterHub)`
  );
}
if (!existsSync(PROXY)) {
  usageError(`no ${PROXY}: run 'npm ci' first (configurable-http-proxy comes from npm)`);
}

const logFile = values['log-file'] ? resolve(values['log-file']) : undefined;
if (logFile) {
  mkdirSync(dirname(logFile), { recursive: true });
}
const logStream = logFile ? createWriteStream(logFile, { flags: 'w' }) : undefined;

/**
 * Writes a secret to a new 0600 file (replacing an old one), never anywhere else.
 *
 * @param {string} path - the file.
 * @param {string} value - the secret.
 */
function writeSecret(path, value) {
  rmSync(path, { force: true });
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
}

/**
 * Makes the state directory: fresh secrets and database (the IdP's keys are new at each start, so an old
 * auth_state could not be refreshed anyway), and each user's home with the demo notebook.
 */
function prepareState() {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  chmodSync(stateDir, 0o700);
  writeSecret(join(stateDir, 'hub-client-secret'), randomBytes(32).toString('hex'));
  writeSecret(join(stateDir, 'crypt-key'), randomBytes(32).toString('hex'));
  for (const stale of ['jupyterhub.sqlite', 'proxy.pid']) {
    rmSync(join(stateDir, stale), { force: true });
  }
  for (const user of USERS) {
    const home = join(stateDir, 'home', user);
    mkdirSync(home, { recursive: true });
    const copy = join(home, 'hub-demo.ipynb');
    if (!existsSync(copy) || statSync(HUB_NOTEBOOK).mtimeMs > statSync(copy).mtimeMs) {
      copyFileSync(HUB_NOTEBOOK, copy);
    }
  }
}

await runStack(
  { name: 'start-hub-demo', output: logStream, onExit: () => logStream?.end() },
  async stack => {
    await stack.checkPorts([
      { port: ports.idp, name: 'demo IdP', hint: 'pass --idp-port N (or set DEMO_IDP_PORT)' },
      { port: ports.api, name: 'demo API', hint: 'pass --api-port N (or set DEMO_API_PORT)' },
      { port: ports.hub, name: 'JupyterHub', hint: 'pass --hub-port N (or set DEMO_HUB_PORT)' }
    ]);
    prepareState();
    const [hubApiPort, proxyApiPort] = await freePorts(2);

    // The IdP answers as `localhost`, the hub as 127.0.0.1: two hosts, so a browser keeps their cookies apart.
    const issuer = `http://localhost:${ports.idp}`;
    const hubUrl = `http://${LOOPBACK}:${ports.hub}`;
    const apiUrl = `http://${LOOPBACK}:${ports.api}`;
    const idp = stack.start({
      name: 'demo IdP',
      command: process.execPath,
      args: [
        join(DEMO_DIR, 'idp.mjs'),
        '--port',
        String(ports.idp),
        '--issuer-host',
        'localhost',
        '--api-url',
        apiUrl,
        '--hub-client-secret-file',
        join(stateDir, 'hub-client-secret'),
        '--hub-redirect-uri',
        `${hubUrl}/hub/oauth_callback`,
        '--hub-access-token-ttl',
        String(tokenTtl),
        // Sign-ins to other providers from any server come back through the hub's one redirect URI.
        '--redirect-uri',
        `${hubUrl}/hub/user-redirect/token-broker/api/v1/callback`
      ],
      ready: jsonReadyLine()
    });
    const api = stack.start({
      name: 'demo API',
      command: process.execPath,
      // CORS for JupyterLab's origin, which is the hub's.
      args: [
        join(DEMO_DIR, 'api.mjs'),
        '--port',
        String(ports.api),
        '--issuer',
        issuer,
        '--jupyter-port',
        String(ports.hub)
      ],
      ready: jsonReadyLine()
    });
    await Promise.all([idp.ready, api.ready]);

    // Ports, URLs and paths only: the secrets stay in their files.
    const hub = stack.start({
      name: 'JupyterHub',
      command: jupyterhub,
      args: ['-f', HUB_CONFIG],
      cwd: stateDir,
      env: {
        ...process.env,
        PATH: `${join(values.venv, 'bin')}:${process.env.PATH ?? ''}`,
        DEMO_HUB_STATE_DIR: stateDir,
        DEMO_HUB_PORT: String(ports.hub),
        DEMO_HUB_API_PORT: String(hubApiPort),
        DEMO_PROXY_API_PORT: String(proxyApiPort),
        DEMO_IDP_ISSUER: issuer,
        DEMO_API_URL: apiUrl
      },
      ready: { stream: 'stderr', line: text => (HUB_READY.test(text) ? true : undefined) },
      readyTimeoutMs: 120_000
    });
    await hub.ready;

    stack.say(`demo IdP at ${issuer}, demo API at ${apiUrl} (GET /whoami, /items)`);
    stack.say(`JupyterHub at ${hubUrl}/  (open it and log in with the demo IdP)`);
    stack.say(`users: ${USERS.map(u => `${u} / demo`).join(', ')}; access tokens of ${tokenTtl} s`);
    stack.say(
      `then open hub-demo.ipynb and run it: get_token("hub") needs no second sign-in; state in ${stateDir}`
    );
  }
);
