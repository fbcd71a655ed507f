/**
 * A real `jupyter server` with the token broker extension for the benchmark: a private run
 * directory, a config naming the providers, the server's own token, and calls made as a kernel
 * makes them (`Authorization: token …`).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO } from './broker.mjs';
import { privateDir, sleep, startLogged } from './processes.mjs';
import { descendants } from './processTree.mjs';

export const PYTHON = join(REPO, '.venv/bin/python');

/**
 * Starts `python -m jupyter_server` on 127.0.0.1 and waits until it answers its own API. Its broker
 * may not run yet: the extension starts it on the first request that needs it.
 *
 * @param {object} options - `port`, `providers` (the `c.TokenBroker.providers` list), `name` (run
 *   directory prefix), `brokerScript` (default: the copy inside the Python package), `configLines`
 *   (more lines of the config file), `env` (more environment), `extension` (false: the same server
 *   with `jupyter_token_broker` disabled; default true).
 * @returns {Promise<object>} `base` (its URL, ending in `/`), `api` (`…/token-broker/api/v1/`),
 *   `token`, `pid`, `dir`, `logFile`, `brokerPid()` (the broker it started, if one runs) and
 *   `stop()`.
 */
export async function startJupyter({
  port,
  providers,
  name = 'jupyter',
  brokerScript,
  configLines = [],
  env: extraEnv = {},
  extension = true
}) {
  const dir = privateDir(name);
  const token = randomBytes(24).toString('hex');
  const logFile = join(dir, 'server.log');
  for (const sub of ['runtime', 'config', 'data', 'root', 'xdg']) {
    mkdirSync(join(dir, sub), { mode: 0o700 });
  }
  const config = join(dir, 'jupyter_server_config.py');
  writeFileSync(
    config,
    [
      'c = get_config()  # noqa: F821',
      'c.ServerApp.ip = "127.0.0.1"',
      `c.ServerApp.port = ${port}`,
      'c.ServerApp.port_retries = 0',
      'c.ServerApp.open_browser = False',
      'c.ServerApp.allow_root = True',
      `c.ServerApp.root_dir = ${JSON.stringify(join(dir, 'root'))}`,
      `c.IdentityProvider.token = ${JSON.stringify(token)}`,
      `c.ServerApp.jpserver_extensions = {"jupyter_token_broker": ${extension ? 'True' : 'False'}}`,
      `c.TokenBroker.providers = ${JSON.stringify(providers)}`,
      ...(brokerScript === undefined
        ? []
        : [`c.TokenBroker.broker_script = ${JSON.stringify(brokerScript)}`]),
      'c.TokenBroker.startup_timeout = 30',
      ...configLines,
      ''
    ].join('\n')
  );
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(JUPYTER|JUPYTERHUB_|XDG_|PYTHONPATH)/.test(key)
    )
  );
  Object.assign(env, {
    JUPYTER_RUNTIME_DIR: join(dir, 'runtime'),
    JUPYTER_CONFIG_DIR: join(dir, 'config'),
    JUPYTER_DATA_DIR: join(dir, 'data'),
    XDG_RUNTIME_DIR: join(dir, 'xdg'),
    ...extraEnv
  });
  const server = startLogged(PYTHON, ['-m', 'jupyter_server', '--config', config], {
    env,
    cwd: dir,
    logFile
  });
  const base = `http://127.0.0.1:${port}/`;
  await waitForServer(server, base, token, logFile);
  return {
    base,
    api: `${base}token-broker/api/v1/`,
    token,
    pid: server.child.pid,
    dir,
    logFile,
    brokerPid: () => brokerOf(server.child.pid),
    stop: server.stop
  };
}

/**
 * Waits until the server answers `GET api/status` with its token (60 s at most).
 *
 * @param {{child: import('node:child_process').ChildProcess, stop: () => Promise<void>}} server -
 *   the server process
 * @param {string} base - its URL
 * @param {string} token - its token
 * @param {string} logFile - its log, quoted when it exits
 */
async function waitForServer(server, base, token, logFile) {
  const deadline = Date.now() + 60000;
  for (;;) {
    if (server.child.exitCode !== null) {
      throw new Error(`jupyter server exited:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    }
    try {
      await call(`${base}api/status`, token);
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error('timed out waiting for the Jupyter server');
    }
    await sleep(100);
  }
}

/**
 * The broker a Jupyter server started (`node … serve`), not its config check (`node … check-config`).
 *
 * @param {number} serverPid - the Jupyter server
 * @returns {number | undefined} the broker's pid, or undefined when none runs
 */
export function brokerOf(serverPid) {
  return descendants(serverPid).find(p => / serve( |$)/.test(p.cmdline))?.pid;
}

/**
 * A request to the Jupyter server, authenticated as a kernel or script is; throws unless it is 200.
 *
 * @param {string} url - where
 * @param {string} token - the server's token
 * @param {object} [options] - `method` (default GET), `body` (sent as JSON), `accept`
 * @returns {Promise<string>} the answer's body
 */
export async function call(url, token, { method = 'GET', body, accept = 'application/json' } = {}) {
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    headers: {
      Authorization: `token ${token}`,
      Accept: accept,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' })
    },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return text;
}

/**
 * Signs in to a provider through the Jupyter server: starts the login, follows the IdP's automatic
 * login and consent, and completes the callback.
 *
 * @param {object} jupyter - from {@link startJupyter}
 * @param {object} idp - the benchmark's IdP (`harness/idp.mjs`)
 * @param {string} provider - the provider id
 */
export async function signInThroughJupyter(jupyter, idp, provider) {
  const started = JSON.parse(
    await call(`${jupyter.api}providers/${provider}/login`, jupyter.token, {
      method: 'POST',
      body: {}
    })
  );
  const redirect = await idp.authorize(started.authorization_url);
  await call(redirect.href, jupyter.token);
}
