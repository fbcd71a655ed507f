#!/usr/bin/env node
/**
 * Starts the whole demo: the demo IdP, the demo API, then JupyterLab with the token broker configured for them.
 *
 *   node packages/demo/start-demo.mjs [--idp-port 9400] [--api-port 9401] [--jupyter-port 8888]
 *       [--venv /work/main/.venv] [--config binder/jupyter_server_config.py] [--log-file FILE] [-- JUPYTER ARGS…]
 *
 * Env defaults: DEMO_IDP_PORT, DEMO_API_PORT, DEMO_JUPYTER_PORT, DEMO_VENV, DEMO_JUPYTER_CONFIG, DEMO_LOG_FILE.
 * The ports reach the Jupyter config through DEMO_IDP_PORT / DEMO_API_PORT (ports, never secrets). JupyterLab
 * prints its own URL with its token. With --log-file every process's output goes to that file instead of the
 * terminal. SIGINT/SIGTERM stop JupyterLab first, then the API and the IdP; if any of them dies, the rest stop too.
 */

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const DEMO_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = resolve(DEMO_DIR, '..', '..');
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'idp-port': { type: 'string', default: process.env.DEMO_IDP_PORT ?? '9400' },
    'api-port': { type: 'string', default: process.env.DEMO_API_PORT ?? '9401' },
    'jupyter-port': { type: 'string', default: process.env.DEMO_JUPYTER_PORT ?? '8888' },
    venv: { type: 'string', default: process.env.DEMO_VENV ?? join(REPO_DIR, '.venv') },
    config: {
      type: 'string',
      default:
        process.env.DEMO_JUPYTER_CONFIG ?? join(REPO_DIR, 'binder', 'jupyter_server_config.py')
    },
    'log-file': { type: 'string', default: process.env.DEMO_LOG_FILE }
  }
});

const ports = { idp: values['idp-port'], api: values['api-port'], jupyter: values['jupyter-port'] };
const logFile = values['log-file'] ? resolve(values['log-file']) : undefined;
if (logFile) {
  mkdirSync(dirname(logFile), { recursive: true });
}
const logStream = logFile ? createWriteStream(logFile, { flags: 'w' }) : undefined;

/**
 * Says something about the launcher itself.
 *
 * @param {string} message - one line, never token material.
 */
function say(message) {
  const line = `[start-demo] ${message}\n`;
  process.stderr.write(line);
  logStream?.write(line);
}

/** @type {import('node:child_process').ChildProcess[]} */
const children = [];
let stopping = false;

/**
 * Spawns a child whose output goes to the log file (or the terminal).
 *
 * @param {string} name - a label for messages.
 * @param {string} command - the executable.
 * @param {string[]} args - its arguments.
 * @param {NodeJS.ProcessEnv} env - its environment.
 * @returns {import('node:child_process').ChildProcess} the child, stdout piped so its ready line can be read.
 */
function launch(name, command, args, env) {
  const child = spawn(command, args, {
    env,
    stdio: ['ignore', 'pipe', logStream ? 'pipe' : 'inherit']
  });
  children.push(child);
  if (logStream) {
    child.stderr.pipe(logStream, { end: false });
  }
  child.stdout.pipe(logStream ?? process.stdout, { end: false });
  child.once('exit', (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? code}); stopping the demo`);
      void stopAll(code === 0 ? 1 : (code ?? 1));
    }
  });
  return child;
}

/**
 * Waits for a child's `{"ready":true,…}` line on stdout.
 *
 * @param {string} name - a label for messages.
 * @param {import('node:child_process').ChildProcess} child - the child.
 * @returns {Promise<Record<string, unknown>>} the parsed ready line.
 */
function readyLine(name, child) {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS
    );
    createInterface({ input: child.stdout }).on('line', line => {
      try {
        const parsed = JSON.parse(line);
        if (parsed?.ready === true) {
          clearTimeout(timer);
          resolvePromise(parsed);
        }
      } catch {
        // Any other output line.
      }
    });
    child.once('exit', () => reject(new Error(`${name} exited before it was ready`)));
  });
}

/**
 * Stops every child, newest first (JupyterLab before the IdP it depends on), then exits.
 *
 * @param {number} exitCode - the launcher's exit code.
 */
async function stopAll(exitCode) {
  if (stopping) {
    return;
  }
  stopping = true;
  for (const child of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(r => child.once('exit', r));
      child.kill('SIGTERM');
      // JupyterLab asks for confirmation on the first SIGINT only; SIGTERM is immediate. Give each 10 s.
      const timeout = new Promise(r => setTimeout(r, 10_000).unref());
      await Promise.race([exited, timeout]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    }
  }
  logStream?.end();
  process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => void stopAll(0));
}

const jupyter = join(values.venv, 'bin', 'jupyter');
if (!existsSync(jupyter)) {
  say(
    `no ${jupyter}: pass --venv DIR (or DEMO_VENV) naming a virtualenv with JupyterLab and jupyter_token_broker`
  );
  process.exit(2);
}

// The children get the ports and nothing else new: no token or secret ever travels through an environment.
const env = {
  ...process.env,
  DEMO_IDP_PORT: ports.idp,
  DEMO_API_PORT: ports.api,
  DEMO_JUPYTER_PORT: ports.jupyter,
  PATH: `${join(values.venv, 'bin')}:${process.env.PATH ?? ''}`
};

try {
  const idp = launch(
    'demo IdP',
    process.execPath,
    [join(DEMO_DIR, 'idp.mjs'), '--port', ports.idp, '--jupyter-port', ports.jupyter],
    env
  );
  const api = launch(
    'demo API',
    process.execPath,
    [join(DEMO_DIR, 'api.mjs'), '--port', ports.api],
    env
  );
  const [idpReady, apiReady] = await Promise.all([
    readyLine('demo IdP', idp),
    readyLine('demo API', api)
  ]);
  say(
    `demo IdP at ${idpReady.issuer} (users alice / bob, password demo); demo API at ${apiReady.url}`
  );
} catch (err) {
  say(err instanceof Error ? err.message : String(err));
  await stopAll(1);
}

launch(
  'JupyterLab',
  jupyter,
  [
    'lab',
    '--no-browser',
    `--ServerApp.ip=${HOST}`,
    `--ServerApp.port=${ports.jupyter}`,
    '--ServerApp.port_retries=0',
    // Containers and CI machines often run as root; Jupyter refuses that unless told.
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    `--config=${resolve(values.config)}`,
    ...positionals
  ],
  env
);
say(
  `JupyterLab starting on http://${HOST}:${ports.jupyter}/ (its URL with the login token follows in its log)`
);
