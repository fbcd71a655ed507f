/**
 * The demo launcher (`start-demo.mjs`) as a person runs it: a taken port is named in one line and nothing is
 * started; a part that fails to start takes everything else down with it; a signal stops what JupyterLab
 * started too; JupyterLab works in a directory of its own, never the repository, and tells kernels the API's
 * URL. All on free ports, so a running `make demo` is never in the way.
 */

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts, portInUse } from '../lib/ports.mjs';

const DEMO_DIR = fileURLToPath(new URL('..', import.meta.url));
const REPO_DIR = resolve(DEMO_DIR, '..', '..');
const LAUNCHER = join(DEMO_DIR, 'start-demo.mjs');
const VENV = join(REPO_DIR, '.venv');

const scratch = mkdtempSync(join(tmpdir(), 'start-demo-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Runs the launcher.
 *
 * @param {string[]} args - its arguments.
 * @param {NodeJS.ProcessEnv} [env] - extra environment.
 * @returns {{child: import('node:child_process').ChildProcess, stderr: () => string,
 *   exited: Promise<{code: number | null, signal: string | null}>}} the running launcher.
 */
function launch(args, env = {}) {
  const child = spawn(process.execPath, [LAUNCHER, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe']
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', chunk => {
    stderr += chunk;
  });
  const exited = new Promise(done => child.once('exit', (code, signal) => done({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

/**
 * The process ids of every process whose command line contains `marker`.
 *
 * @param {string} marker - a string unique to the processes of one test (a port, a random word).
 * @returns {number[]} their pids.
 */
function processesWith(marker) {
  return readdirSync('/proc')
    .filter(name => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter(pid => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/**
 * Waits until `check` returns true, for at most `ms`.
 *
 * @param {() => boolean | Promise<boolean>} check - the condition.
 * @param {number} ms - the deadline.
 * @returns {Promise<boolean>} whether it became true.
 */
async function eventually(check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) {
      return true;
    }
    await new Promise(done => setTimeout(done, 100));
  }
  return check();
}

/**
 * A virtualenv whose `jupyter` is a script of the test's own (a JupyterLab that fails or lingers).
 *
 * @param {string} script - the body of `bin/jupyter`, a Node.js script.
 * @returns {string} the virtualenv's directory.
 */
function fakeVenv(script) {
  const venv = mkdtempSync(join(scratch, 'venv-'));
  mkdirSync(join(venv, 'bin'));
  writeFileSync(join(venv, 'bin', 'jupyter'), `#!${process.execPath}\n${script}\n`);
  chmodSync(join(venv, 'bin', 'jupyter'), 0o755);
  return venv;
}

/**
 * The `{"ready":true,…}` lines of a log file (the IdP's has `issuer` and `resource`, the API's `url`).
 *
 * @param {string} logFile - the launcher's `--log-file`.
 * @returns {{pid: number, resource?: string, url?: string}[]} the parsed lines.
 */
function readyLines(logFile) {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .flatMap(line => {
      try {
        const parsed = JSON.parse(line);
        return parsed?.ready === true ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

/**
 * Whether a process is alive.
 *
 * @param {number} pid - the process id.
 * @returns {boolean} whether it exists.
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('with the IdP port taken, the launcher says so in one line, exits 1 and leaves nothing running', async () => {
  const [idpPort, apiPort, jupyterPort] = await freePorts(3);
  const squatter = createServer();
  await new Promise(done => squatter.listen(idpPort, '127.0.0.1', done));
  try {
    const launcher = launch(
      [
        '--idp-port',
        String(idpPort),
        '--api-port',
        String(apiPort),
        '--jupyter-port',
        String(jupyterPort),
        '--root-dir',
        join(scratch, 'taken-port-root')
      ],
      // Not the real virtualenv: had the launcher gone on to start "JupyterLab", this one would linger.
      { DEMO_VENV: fakeVenv('setInterval(() => {}, 1000);') }
    );
    const { code } = await launcher.exited;
    assert.equal(code, 1);
    assert.equal(
      launcher.stderr(),
      `[start-demo] port ${idpPort} (demo IdP) is in use: stop what uses it or set DEMO_IDP_PORT=… (or --idp-port)\n`
    );
    assert.deepEqual(processesWith(`--port ${apiPort}`), [], 'the demo API was started');
    assert.deepEqual(
      processesWith(`--ServerApp.port=${jupyterPort}`),
      [],
      'JupyterLab was started'
    );
    assert.equal(await portInUse(apiPort), false);
    assert.equal(await portInUse(jupyterPort), false);
  } finally {
    squatter.close();
  }
});

test('a JupyterLab that fails to start takes the IdP and the API down with it, and the launcher says which', async () => {
  const [idpPort, apiPort, jupyterPort] = await freePorts(3);
  const logFile = join(scratch, 'failing-jupyter.log');
  const launcher = launch([
    '--idp-port',
    String(idpPort),
    '--api-port',
    String(apiPort),
    '--jupyter-port',
    String(jupyterPort),
    '--root-dir',
    join(scratch, 'failing-root'),
    '--venv',
    fakeVenv('console.error("cannot start"); process.exit(3);'),
    '--log-file',
    logFile
  ]);
  const { code } = await launcher.exited;
  assert.equal(code, 1);
  const lines = launcher.stderr().trimEnd().split('\n');
  assert.match(lines[0], /^\[start-demo\] demo IdP at /);
  assert.equal(
    lines.at(-1),
    '[start-demo] JupyterLab exited (code 3) before it was ready; its output is above'
  );
  assert.equal(lines.length, 2, launcher.stderr());
  const pids = readyLines(logFile).map(ready => ready.pid);
  assert.equal(pids.length, 2, 'the IdP and the API printed their ready lines');
  assert.deepEqual(
    pids.filter(alive),
    [],
    'the IdP and the API are stopped before the launcher exits'
  );
  assert.equal(await portInUse(idpPort), false);
  assert.equal(await portInUse(apiPort), false);
});

test('SIGTERM stops JupyterLab and what it started, then the API and the IdP, and exits 0', async () => {
  const [idpPort, apiPort, jupyterPort] = await freePorts(3);
  const marker = `lingering-${randomBytes(6).toString('hex')}`;
  // A "JupyterLab" that answers HTTP and starts a process of its own (as a kernel) that it never stops: only
  // the launcher's clean-up of JupyterLab's process group does.
  const venv = fakeVenv(`
    const { spawn } = require('node:child_process');
    const port = Number(process.argv.find(a => a.startsWith('--ServerApp.port=')).split('=')[1]);
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${marker}'], { stdio: 'ignore' });
    require('node:http').createServer((_, res) => res.end('lab')).listen(port, '127.0.0.1');
  `);
  const launcher = launch([
    '--idp-port',
    String(idpPort),
    '--api-port',
    String(apiPort),
    '--jupyter-port',
    String(jupyterPort),
    '--root-dir',
    join(scratch, 'sigterm-root'),
    '--venv',
    venv
  ]);
  assert.ok(
    await eventually(() => launcher.stderr().includes('JupyterLab is ready'), 30_000),
    launcher.stderr()
  );
  assert.equal(processesWith(marker).length, 1);

  launcher.child.kill('SIGTERM');
  const { code } = await launcher.exited;
  assert.equal(code, 0);
  assert.deepEqual(processesWith(marker), [], "JupyterLab's own child is stopped");
  for (const port of [idpPort, apiPort, jupyterPort]) {
    assert.equal(await portInUse(port), false, `port ${port} is free again`);
  }
});

test('the IdP dying while JupyterLab starts stops everything at once, in one line', async () => {
  const [idpPort, apiPort, jupyterPort] = await freePorts(3);
  const marker = `starting-${randomBytes(6).toString('hex')}`;
  const logFile = join(scratch, 'idp-dies.log');
  // A "JupyterLab" that never gets ready (it never listens), with a child of its own.
  const venv = fakeVenv(`
    require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${marker}'], { stdio: 'ignore' });
    setInterval(() => {}, 1000);
  `);
  const launcher = launch([
    '--idp-port',
    String(idpPort),
    '--api-port',
    String(apiPort),
    '--jupyter-port',
    String(jupyterPort),
    '--root-dir',
    join(scratch, 'idp-dies-root'),
    '--venv',
    venv,
    '--log-file',
    logFile
  ]);
  assert.ok(await eventually(() => processesWith(marker).length === 1, 30_000), launcher.stderr());
  const idpPid = readyLines(logFile).find(ready => 'resource' in ready)?.pid;
  assert.ok(idpPid, 'the IdP printed its ready line');
  process.kill(idpPid, 'SIGKILL');
  const started = Date.now();
  const { code } = await launcher.exited;
  assert.equal(code, 1);
  assert.ok(Date.now() - started < 20_000, "not after JupyterLab's ready timeout");
  assert.equal(
    launcher.stderr().trimEnd().split('\n').at(-1),
    '[start-demo] demo IdP exited (SIGKILL); stopping everything'
  );
  assert.deepEqual(processesWith(marker), [], "JupyterLab's own child is stopped");
  assert.deepEqual(processesWith(`--ServerApp.port=${jupyterPort}`), []);
  assert.equal(await portInUse(apiPort), false);
});

test(
  "the demo's JupyterLab works in .cache/demo with a copy of the demo notebook, not in the repository, and tells kernels the API's URL",
  { skip: existsSync(join(VENV, 'bin', 'jupyter')) ? false : `no ${VENV}: run make setup` },
  async () => {
    const [idpPort, apiPort, jupyterPort] = await freePorts(3);
    const launcher = launch([
      '--idp-port',
      String(idpPort),
      '--api-port',
      String(apiPort),
      '--jupyter-port',
      String(jupyterPort),
      '--log-file',
      join(scratch, 'real-jupyter.log')
    ]);
    try {
      assert.ok(
        await eventually(
          () => launcher.stderr().includes('JupyterLab is ready'),
          // A first start of JupyterLab on a busy machine.
          120_000
        ),
        launcher.stderr()
      );
      const runtimeDir = execFileSync(join(VENV, 'bin', 'jupyter'), ['--runtime-dir'], {
        encoding: 'utf8'
      }).trim();
      const server = readdirSync(runtimeDir)
        .filter(name => /^jpserver-\d+\.json$/.test(name))
        .map(name => JSON.parse(readFileSync(join(runtimeDir, name), 'utf8')))
        .find(info => info.port === jupyterPort);
      assert.ok(server, `a runtime file for the Jupyter server on port ${jupyterPort}`);

      const root = resolve(server.root_dir);
      assert.equal(root, join(REPO_DIR, '.cache', 'demo'));
      assert.notEqual(root, REPO_DIR);

      // What the file browser shows: the demo notebook, none of the repository's files.
      const contents = await (
        await fetch(`http://127.0.0.1:${jupyterPort}/api/contents`, {
          headers: { Authorization: `token ${server.token}` }
        })
      ).json();
      const names = contents.content.map(item => item.name);
      assert.ok(names.includes('demo.ipynb'), names.join(', '));
      for (const tracked of ['packages', 'binder', 'README.md', 'Makefile']) {
        assert.ok(!names.includes(tracked), `${tracked} is in the demo's file browser`);
      }
      assert.deepEqual(
        JSON.parse(readFileSync(join(root, 'demo.ipynb'), 'utf8')).cells.map(c => c.source),
        JSON.parse(readFileSync(join(REPO_DIR, 'binder', 'demo.ipynb'), 'utf8')).cells.map(
          c => c.source
        )
      );

      // The server's environment, which every kernel inherits, names this stack's API.
      const environ = readFileSync(`/proc/${server.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes(`DEMO_API_URL=http://127.0.0.1:${apiPort}`), 'DEMO_API_URL');
    } finally {
      launcher.child.kill('SIGTERM');
      assert.equal((await launcher.exited).code, 0);
    }
    assert.deepEqual(processesWith(`--ServerApp.port=${jupyterPort}`), []);
  }
);

test('the demo notebook calls the API named in DEMO_API_URL, and no fixed address', () => {
  const notebook = JSON.parse(readFileSync(join(REPO_DIR, 'binder', 'demo.ipynb'), 'utf8'));
  const code = notebook.cells.filter(c => c.cell_type === 'code').map(c => c.source.join(''));
  // Only the fallback, for a kernel started outside the demo, names a port.
  assert.deepEqual(
    code.join('\n').match(/127\.0\.0\.1:\d+/g),
    ['127.0.0.1:9401'],
    'one fallback address'
  );
  const python = join(VENV, 'bin', 'python');
  if (!existsSync(python)) {
    return;
  }
  // The first code cell up to the first request, run as the kernel would, with this stack's variable.
  const setup = code[0].slice(0, code[0].indexOf('\nr = '));
  const api = execFileSync(python, ['-c', `${setup}\nprint(API)`], {
    env: { ...process.env, DEMO_API_URL: 'http://127.0.0.1:45678' },
    encoding: 'utf8'
  }).trim();
  assert.equal(api, 'http://127.0.0.1:45678');
});
