/**
 * A token request through the Jupyter server, as a kernel makes it, against a no-op handler of a
 * Jupyter server extension answering a body of the same size, in the same server and the same run:
 * the ratio of p50 latencies is what the extension and the broker add to a Jupyter API call. A third
 * route, the floor, runs the extension's own forwarding code against a process that answers the
 * same bytes as a constant (jupyter/floor-server.mjs): what the architecture costs whatever the
 * broker does, so that broker − floor is the broker's own share. A fourth route is the broker's
 * route with tornado's own HTTP client in place of the extension's (`upstream.py`): what that client
 * buys per request.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { REPO } from '../harness/broker.mjs';
import { CLIENT_ID, SCOPES } from '../harness/idp.mjs';
import { privateDir, runJson, sleep, startLogged, startReady } from '../harness/processes.mjs';

const PYTHON = join(REPO, '.venv/bin/python');
const JUPYTER_DIR = fileURLToPath(new URL('../jupyter/', import.meta.url));
const FLOOR_SERVER = join(JUPYTER_DIR, 'floor-server.mjs');

async function waitFor(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A request to the Jupyter server, authenticated as a kernel or script is. */
async function call(url, token, { method = 'GET', body, accept = 'application/json' } = {}) {
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
 * Starts a Jupyter server with the token broker extension (launching the broker the Python package
 * ships) and the benchmark's extension, signs in, starts the floor process, and times the four
 * routes.
 *
 * @param {object} options - `idp`, `port`, `requests`, `warmup`.
 * @returns {Promise<object>} p50/p90 of the broker, no-op, floor and tornado-client routes, the
 *   broker/no-op ratio (`jupyter_overhead_ratio`), `floor_ratio` (floor/no-op),
 *   `broker_over_floor_ms`, and `tornado_client_ratio` (tornado client / shipped client) with
 *   `tornado_client_extra_ms` (the p50 difference).
 */
export async function measureJupyter({ idp, port, requests, warmup }) {
  const dir = privateDir('jupyter');
  const token = randomBytes(24).toString('hex');
  const logFile = join(dir, 'server.log');
  const bodyFile = join(dir, 'noop-body.json');
  // In the 0700 run directory; the floor makes it 0600, as the broker makes its own.
  const floorSocket = join(dir, 'floor.sock');
  for (const sub of ['runtime', 'config', 'data', 'root', 'xdg']) {
    mkdirSync(join(dir, sub), { mode: 0o700 });
  }
  const providers = [
    {
      id: 'demo',
      title: 'Bench IdP',
      kind: 'oidc',
      issuer: idp.issuer,
      client_id: CLIENT_ID,
      scopes: SCOPES
    }
  ];
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
      'c.ServerApp.jpserver_extensions = {"jupyter_token_broker": True, "tb_bench_noop": True}',
      `c.TokenBroker.providers = ${JSON.stringify(providers)}`,
      'c.TokenBroker.startup_timeout = 30',
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
    PYTHONPATH: JUPYTER_DIR,
    TB_BENCH_NOOP_BODY_FILE: bodyFile,
    TB_BENCH_FLOOR_SOCKET: floorSocket
  });
  const server = startLogged(PYTHON, ['-m', 'jupyter_server', '--config', config], {
    env,
    cwd: dir,
    logFile
  });
  const base = `http://127.0.0.1:${port}/`;
  const api = `${base}token-broker/api/v1/`;
  const floorUrl = `${base}tb-bench/floor/api/v1/providers/demo/token`;
  const tornadoUrl = `${base}tb-bench/tornado/api/v1/providers/demo/token`;
  let floor = null;
  try {
    // The server, not its broker: the extension starts the broker on the first request (the login).
    await waitFor(
      'the Jupyter server',
      async () => {
        if (server.child.exitCode !== null) {
          throw new Error(`jupyter server exited:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
        }
        return call(`${base}api/status`, token).then(
          () => true,
          () => false
        );
      },
      60000
    );
    idp.accessTokenTtl = 3600;
    const started = JSON.parse(
      await call(`${api}providers/demo/login`, token, { method: 'POST', body: {} })
    );
    const redirect = await idp.authorize(started.authorization_url);
    await call(redirect.href, token);
    const answer = await call(`${api}providers/demo/token`, token, {
      method: 'POST',
      body: { min_ttl: 60 }
    });
    writeFileSync(bodyFile, answer);
    // Its own process, not this one: the bench's event loop would otherwise serve the floor in
    // between its own work. Started once the answer it repeats is known; the extension's client
    // connects on the first request.
    floor = await startReady(process.execPath, [FLOOR_SERVER, floorSocket, bodyFile]);
    const floorAnswer = await call(floorUrl, token, { method: 'POST', body: { min_ttl: 60 } });
    if (floorAnswer !== answer) {
      throw new Error('the floor route did not answer the bytes of the broker route');
    }
    const tornadoAnswer = JSON.parse(
      await call(tornadoUrl, token, { method: 'POST', body: { min_ttl: 60 } })
    );
    if (tornadoAnswer.access_token !== JSON.parse(answer).access_token) {
      throw new Error("the tornado-client route did not answer the broker route's token");
    }

    const timings = await runJson(
      PYTHON,
      [
        join(JUPYTER_DIR, 'client.py'),
        token,
        String(requests),
        String(warmup),
        `broker=${api}providers/demo/token`,
        `noop=${base}tb-bench/api/v1/providers/demo/token`,
        `floor=${floorUrl}`,
        `tornado=${tornadoUrl}`
      ],
      { env }
    );
    return {
      body_bytes: Buffer.byteLength(answer),
      broker: timings.broker,
      noop: timings.noop,
      floor: timings.floor,
      tornado: timings.tornado,
      jupyter_overhead_ratio: timings.broker.p50_ms / timings.noop.p50_ms,
      floor_ratio: timings.floor.p50_ms / timings.noop.p50_ms,
      broker_over_floor_ms: timings.broker.p50_ms - timings.floor.p50_ms,
      tornado_client_ratio: timings.tornado.p50_ms / timings.broker.p50_ms,
      tornado_client_extra_ms: timings.tornado.p50_ms - timings.broker.p50_ms
    };
  } finally {
    await Promise.all([server.stop(), floor?.stop()]);
  }
}
