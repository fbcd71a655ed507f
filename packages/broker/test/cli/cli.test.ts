import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { unsupportedNode } from '../../src/nodeVersion.js';
import { socketRequest } from '../fixtures/broker.js';

const bundle = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));
let base: string;
let script: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-cli-'));
  await chmod(base, 0o700);
  // Run the bundle from a directory without node_modules, as the Python package ships it.
  script = join(base, 'token-broker.mjs');
  await copyFile(bundle, script);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function setup(name: string, modes: { dir?: number; key?: number; config?: number } = {}) {
  const dir = join(base, name);
  await mkdir(dir);
  await chmod(dir, modes.dir ?? 0o700);
  const key = randomBytes(32).toString('hex');
  await writeFile(join(dir, 'key'), key + '\n', { mode: modes.key ?? 0o600 });
  await chmod(join(dir, 'key'), modes.key ?? 0o600);
  const config = {
    providers: [
      {
        id: 'demo',
        title: 'Demo',
        kind: 'oidc',
        issuer: 'http://127.0.0.1:9599',
        client_id: 'c',
        scopes: ['openid']
      }
    ]
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await chmod(join(dir, 'config.json'), modes.config ?? 0o600);
  return { dir, key, socket: join(dir, 'broker.sock') };
}

function serve(dir: string, socket: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      script,
      'serve',
      '--config',
      join(dir, 'config.json'),
      '--key-file',
      join(dir, 'key'),
      '--socket',
      socket
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } }
  );
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', code => reject(new Error(`exited ${code}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise(resolve => child.once('exit', code => resolve(code)));
}

function run(args: string[]) {
  return spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
}

describe('token-broker serve', () => {
  test('prints the ready line, serves on a 0600 socket, removes it on SIGTERM', async () => {
    const { dir, key, socket } = await setup('ok');
    const child = serve(dir, socket);
    const ready = JSON.parse(await firstLine(child));
    expect(ready).toEqual({ ready: true, version: expect.any(String), pid: child.pid, socket });
    expect((await stat(socket)).mode & 0o777).toBe(0o600);

    const health = await socketRequest(socket, 'GET', '/api/v1/health', {});
    expect(health.json.status).toBe('ok');
    const denied = await socketRequest(socket, 'GET', '/api/v1/providers', {});
    expect(denied.status).toBe(401);
    const list = await socketRequest(socket, 'GET', '/api/v1/providers', { 'x-broker-key': key });
    expect(list.json.providers[0]).toMatchObject({ id: 'demo', signed_in: false });

    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    await expect(stat(socket)).rejects.toThrow();
  });

  test('refuses a socket directory that is not 0700', async () => {
    const { dir, socket } = await setup('open-dir', { dir: 0o755 });
    const child = serve(dir, socket);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await exited(child)).toBe(1);
    expect(stderr).toMatch(/0700/);
  });

  test('refuses a group-readable key file', async () => {
    const { dir, socket } = await setup('open-key', { key: 0o640 });
    const child = serve(dir, socket);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await exited(child)).toBe(1);
    expect(stderr).toMatch(/key file.*readable by group or others/);
  });

  test('refuses a world-readable config file', async () => {
    const { dir, socket } = await setup('open-config', { config: 0o644 });
    const child = serve(dir, socket);
    expect(await exited(child)).toBe(1);
  });

  test('a second broker on a live socket is refused', async () => {
    const { dir, socket } = await setup('busy');
    const first = serve(dir, socket);
    await firstLine(first);
    const second = serve(dir, socket);
    expect(await exited(second)).toBe(1);
    first.kill('SIGTERM');
    await exited(first);
  });
});

describe('token-broker check-config', () => {
  test('a good config', async () => {
    const { dir } = await setup('check-ok');
    const result = run(['check-config', join(dir, 'config.json')]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      providers: ['demo'],
      store: { type: 'memory' }
    });
  });

  test('a bad config names the key', async () => {
    const dir = join(base, 'check-bad');
    await mkdir(dir);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ providers: [{ id: 'BAD' }] }), {
      mode: 0o600
    });
    const result = run(['check-config', join(dir, 'config.json')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('providers[0].id');
  });

  test('usage errors exit 2', () => {
    expect(run(['frobnicate']).status).toBe(2);
    expect(run(['serve']).status).toBe(2);
  });

  test('--help prints the usage and exits 0', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('token-broker serve --config FILE');
  });
});

describe('Node.js version', () => {
  test.each([
    ['18.20.8', false],
    ['20.18.3', false],
    ['20.19.0', true],
    ['22.23.3', true],
    ['24.21.0', true],
    ['25.0.0', true]
  ])('Node.js %s supported: %s', (version, supported) => {
    const problem = unsupportedNode(version);
    expect(problem === undefined).toBe(supported);
    if (!supported)
      expect(problem).toMatch(`needs Node.js 20.19 or newer; this is Node.js ${version}`);
  });
});
