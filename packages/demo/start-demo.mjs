#!/usr/bin/env node
/**
 * Starts the standalone demo: the demo IdP, the demo API, then JupyterLab with the token broker configured for
 * them, in a directory of its own (never the repository: nothing the demo saves touches a tracked file).
 *
 *   node packages/demo/start-demo.mjs [--idp-port 9400] [--api-port 9401] [--jupyter-port 8888]
 *       [--root-dir .cache/demo] [--venv .venv] [--config binder/jupyter_server_config.py] [--log-file FILE]
 *       [-- JUPYTER ARGS…]
 *
 * Env defaults: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_JUPYTER_PORT, DEMO_ROOT_DIR, DEMO_VENV, DEMO_JUPYTER_CONFIG,
 * DEMO_LOG_FILE. JupyterLab's root is `--root-dir` (default `.cache/demo` in the repository, gitignored), where
 * a copy of `binder/demo.ipynb` is put when there is none or the tracked one is newer. The Jupyter server (and
 * so every kernel) gets the ports in DEMO_IDP_PORT / DEMO_API_PORT / DEMO_JUPYTER_PORT and the demo API's URL
 * in DEMO_API_URL (ports and URLs, never secrets). JupyterLab prints its own URL with its login token.
 *
 * A taken port is named before anything starts; any failure stops everything started and says what in one
 * line; SIGINT/SIGTERM/SIGHUP stop JupyterLab first, then the API and the IdP; if one of them dies, the rest
 * stop too (`lib/stack.mjs`).
 */

import { copyFileSync, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOOPBACK } from './lib/ports.mjs';
import { httpReady, jsonReadyLine, runStack } from './lib/stack.mjs';

const DEMO_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = resolve(DEMO_DIR, '..', '..');
const DEMO_NOTEBOOK = join(REPO_DIR, 'binder', 'demo.ipynb');
/** A first start builds JupyterLab's assets cache and imports every server extension: give it time. */
const JUPYTER_READY_TIMEOUT_MS = 120_000;

/**
 * Says one line about a mistake on the command line and exits 2.
 *
 * @param {string} message - what is wrong.
 * @returns {never}
 */
function usageError(message) {
  process.stderr.write(`[start-demo] ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      'idp-port': { type: 'string', default: process.env.DEMO_IDP_PORT ?? '9400' },
      'api-port': { type: 'string', default: process.env.DEMO_API_PORT ?? '9401' },
      'jupyter-port': { type: 'string', default: process.env.DEMO_JUPYTER_PORT ?? '8888' },
      'root-dir': {
        type: 'string',
        default: process.env.DEMO_ROOT_DIR ?? join(REPO_DIR, '.cache', 'demo')
      },
      venv: { type: 'string', default: process.env.DEMO_VENV ?? join(REPO_DIR, '.venv') },
      config: {
        type: 'string',
        default:
          process.env.DEMO_JUPYTER_CONFIG ?? join(REPO_DIR, 'binder', 'jupyter_server_config.py')
      },
      'log-file': { type: 'string', default: process.env.DEMO_LOG_FILE }
    }
  });
} catch (err) {
  usageError(err instanceof Error ? err.message : String(err));
}
const { values, positionals } = parsed;

/** Each port: its flag, its env var, and what listens there (for messages). */
const PORTS = {
  idp: { flag: '--idp-port', env: 'DEMO_IDP_PORT', name: 'demo IdP' },
  api: { flag: '--api-port', env: 'DEMO_API_PORT', name: 'demo API' },
  jupyter: { flag: '--jupyter-port', env: 'DEMO_JUPYTER_PORT', name: 'JupyterLab' }
};
const ports = Object.fromEntries(
  Object.entries(PORTS).map(([key, { flag }]) => {
    const text = values[flag.slice(2)];
    const port = Number(text);
    if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
      usageError(`${flag} ${text}: a port is a number from 1 to 65535`);
    }
    return [key, port];
  })
);
if (new Set(Object.values(ports)).size !== 3) {
  usageError(`the demo IdP, the demo API and JupyterLab need three different ports`);
}

const jupyter = join(values.venv, 'bin', 'jupyter');
if (!existsSync(jupyter)) {
  usageError(
    `no ${jupyter}: run \`make setup\`, or pass --venv DIR (or DEMO_VENV) naming a virtualenv with JupyterLab and jupyter_token_broker`
  );
}

const rootDir = resolve(values['root-dir']);
const notebookCopy = join(rootDir, 'demo.ipynb');
mkdirSync(rootDir, { recursive: true });
// A fresh copy when there is none or the tracked notebook changed since; the person's own edits otherwise stay.
if (!existsSync(notebookCopy) || statSync(notebookCopy).mtimeMs < statSync(DEMO_NOTEBOOK).mtimeMs) {
  copyFileSync(DEMO_NOTEBOOK, notebookCopy);
}

const logFile = values['log-file'] ? resolve(values['log-file']) : undefined;
if (logFile) {
  mkdirSync(dirname(logFile), { recursive: true });
}
const logStream = logFile ? createWriteStream(logFile, { flags: 'w' }) : undefined;

const issuer = `http://${LOOPBACK}:${ports.idp}`;
const apiUrl = `http://${LOOPBACK}:${ports.api}`;
const jupyterUrl = `http://${LOOPBACK}:${ports.jupyter}`;

// The children get ports and URLs and nothing else new: no token or secret ever travels through an environment.
const env = {
  ...process.env,
  DEMO_IDP_PORT: String(ports.idp),
  DEMO_API_PORT: String(ports.api),
  DEMO_JUPYTER_PORT: String(ports.jupyter),
  DEMO_API_URL: apiUrl,
  PATH: `${join(values.venv, 'bin')}:${process.env.PATH ?? ''}`
};

await runStack(
  {
    name: 'start-demo',
    output: logStream,
    onExit: () => new Promise(done => (logStream ? logStream.end(done) : done()))
  },
  async stack => {
    await stack.checkPorts(
      Object.entries(PORTS).map(([key, { flag, env: envVar, name }]) => ({
        port: ports[key],
        name,
        hint: `set ${envVar}=… (or ${flag})`
      }))
    );
    const idp = stack.start({
      name: 'demo IdP',
      command: process.execPath,
      args: [
        join(DEMO_DIR, 'idp.mjs'),
        '--port',
        String(ports.idp),
        '--api-url',
        apiUrl,
        '--jupyter-port',
        String(ports.jupyter)
      ],
      env,
      ready: jsonReadyLine()
    });
    const api = stack.start({
      name: 'demo API',
      command: process.execPath,
      args: [
        join(DEMO_DIR, 'api.mjs'),
        '--port',
        String(ports.api),
        '--issuer',
        issuer,
        '--jupyter-port',
        String(ports.jupyter)
      ],
      env,
      ready: jsonReadyLine()
    });
    await Promise.all([idp.ready, api.ready]);
    stack.say(`demo IdP at ${issuer} (users alice / bob, password demo); demo API at ${apiUrl}`);

    const lab = stack.start({
      name: 'JupyterLab',
      command: jupyter,
      args: [
        'lab',
        '--no-browser',
        `--ServerApp.ip=${LOOPBACK}`,
        `--ServerApp.port=${ports.jupyter}`,
        '--ServerApp.port_retries=0',
        `--ServerApp.root_dir=${rootDir}`,
        // Containers and CI machines often run as root; Jupyter refuses that unless told.
        ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
        `--config=${resolve(values.config)}`,
        ...positionals
      ],
      cwd: rootDir,
      env,
      ready: httpReady(`${jupyterUrl}/lab`),
      readyTimeoutMs: JUPYTER_READY_TIMEOUT_MS
    });
    await lab.ready;
    stack.say(
      `JupyterLab is ready at ${jupyterUrl}/lab (open the URL with its login token from ` +
        `${logFile ?? 'its output above'}); its files, demo.ipynb among them, are in ${rootDir}`
    );
  }
);
