/**
 * The stores through the real bundle, run from a directory without node_modules as the Python
 * package ships it: start-up refuses an unusable store with `store_unavailable` naming
 * `store.type`, `check-config` reports the store, and the keyring binding is found through
 * `store.module_path`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

const bundle = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));
/** The installed binding's package directory, as an admin would give it in store.module_path. */
const modulePath = dirname(createRequire(import.meta.url).resolve('@napi-rs/keyring/package.json'));
const secretService = process.env.TB_TEST_SECRET_SERVICE === 'ready';

let base: string;
let script: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-store-cli-'));
  await chmod(base, 0o700);
  script = join(base, 'token-broker.mjs');
  await copyFile(bundle, script);
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function setup(store: Record<string, unknown>): Promise<{ dir: string; config: string }> {
  const dir = join(base, randomBytes(4).toString('hex'));
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  const config = join(dir, 'config.json');
  const providers = [
    {
      id: 'demo',
      kind: 'oidc',
      issuer: 'http://127.0.0.1:9599',
      client_id: 'c',
      scopes: ['openid']
    }
  ];
  await writeFile(config, JSON.stringify({ providers, store }), { mode: 0o600 });
  return { dir, config };
}

/** Runs `serve` until it is ready (resolves `ready`) or exits (resolves its code and stderr). */
function serve(
  dir: string,
  config: string,
  env: Record<string, string>
): Promise<{ ready: boolean; code?: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      script,
      'serve',
      '--config',
      config,
      '--key-file',
      join(dir, 'key'),
      '--socket',
      join(dir, 's')
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...env } }
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let ready = false;
  createInterface({ input: child.stdout! }).once('line', () => {
    ready = true;
    child.kill('SIGTERM');
  });
  return new Promise(resolve => {
    child.once('exit', code => resolve(ready ? { ready, stderr } : { ready, code, stderr }));
  });
}

function checkConfig(config: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [script, 'check-config', config], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env }
  });
}

describe('keyring store at start-up', () => {
  test('without the binding next to the bundle: store_unavailable naming store.module_path', async () => {
    const { dir, config } = await setup({ type: 'keyring', lock_dir: join(base, 'unused-locks') });
    const result = await serve(dir, config, {});
    expect(result).toMatchObject({ ready: false, code: 1 });
    expect(result.stderr).toMatch(
      /^token-broker: store_unavailable: store\.type "keyring": cannot load @napi-rs\/keyring .*store\.module_path/
    );
  });

  test('without a D-Bus session: store_unavailable, the broker does not start', async () => {
    const { dir, config } = await setup({
      type: 'keyring',
      module_path: modulePath,
      lock_dir: join(base, 'unused-locks')
    });
    const result = await serve(dir, config, {});
    expect(result).toMatchObject({ ready: false, code: 1 });
    expect(result.stderr).toMatch(
      /^token-broker: store_unavailable: store\.type "keyring": the OS keychain does not answer .*Secret Service.*store\.type "file"/
    );
    expect(checkConfig(config).status).toBe(1);
  });

  (secretService ? test : test.skip)(
    'with a Secret Service: check-config reports the keyring store and creates nothing; serve starts and makes its 0700 lock directory',
    async () => {
      const lockDir = join(base, `locks-${randomBytes(4).toString('hex')}`);
      const { dir, config } = await setup({
        type: 'keyring',
        module_path: modulePath,
        lock_dir: lockDir
      });
      const env = { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS ?? '' };
      const checked = checkConfig(config, env);
      expect(checked.status).toBe(0);
      expect(JSON.parse(checked.stdout)).toEqual({
        ok: true,
        providers: ['demo'],
        store: { type: 'keyring', service: 'jupyter-token-broker' }
      });
      await expect(stat(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
      const served = await serve(dir, config, env);
      expect(served.stderr).not.toMatch(/error/);
      expect(served).toMatchObject({ ready: true });
      expect((await stat(lockDir)).mode & 0o777).toBe(0o700);
      expect(checkConfig(config, env).status).toBe(0);
    }
  );
});

describe('file store at start-up', () => {
  test('serve creates the key file 0600; check-config reports the store and creates nothing', async () => {
    const { dir, config: unused } = await setup({});
    void unused;
    const storeDir = join(dir, 'state');
    const store = {
      type: 'file',
      path: join(storeDir, 'grants.store'),
      key_file: join(storeDir, 'store.key')
    };
    const { config } = await setup(store);
    const checked = checkConfig(config);
    expect(checked.status).toBe(0);
    expect(JSON.parse(checked.stdout)).toEqual({ ok: true, providers: ['demo'], store });
    await expect(stat(storeDir)).rejects.toThrow();

    const served = await serve(dir, config, {});
    expect(served.stderr).not.toMatch(/error/);
    expect(served).toMatchObject({ ready: true });
    expect((await stat(store.key_file)).mode & 0o777).toBe(0o600);
    expect((await stat(storeDir)).mode & 0o777).toBe(0o700);
  });

  test('a store file others can read stops start-up with store_unavailable', async () => {
    const { dir } = await setup({});
    const store = {
      type: 'file',
      path: join(dir, 'grants.store'),
      key_file: join(dir, 'store.key')
    };
    const { config } = await setup(store);
    await writeFile(store.key_file, randomBytes(32).toString('hex'), { mode: 0o600 });
    await writeFile(store.path, 'JTBSTORE', { mode: 0o644 });
    await chmod(store.path, 0o644);
    const result = await serve(dir, config, {});
    expect(result).toMatchObject({ ready: false, code: 1 });
    expect(result.stderr).toMatch(
      /^token-broker: store_unavailable: store\.type "file": .*grants\.store is readable or writable by group or others \(mode 644\)/
    );
    const checked = checkConfig(config);
    expect(checked.status).toBe(1);
    expect(checked.stderr).toMatch(/store_unavailable: store\.type "file"/);
  });
});
