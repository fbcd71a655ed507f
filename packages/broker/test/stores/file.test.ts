/**
 * The encrypted file store: the TokenStore contract, then what only a file store can get wrong —
 * modes and owners, the key file, tampering, crash safety of writes, and its cross-process lock.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { build } from 'esbuild';

import { FileStore } from '../../src/stores/file.js';
import type { Grant } from '../../src/stores/tokenStore.js';
import { runTokenStoreContract } from './contract.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-file-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

const LOCK = { waitMs: 2000, staleMs: 10000 };

async function freshDir(): Promise<string> {
  const dir = join(base, randomBytes(6).toString('hex'));
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

function storeIn(dir: string, lock = LOCK): FileStore {
  return new FileStore({ path: join(dir, 'grants.store'), keyFile: join(dir, 'store.key'), lock });
}

async function openIn(dir: string, lock = LOCK): Promise<FileStore> {
  const store = storeIn(dir, lock);
  await store.open();
  return store;
}

const grant = (provider: string, refreshToken: string): Grant => ({
  provider,
  refreshToken,
  scopes: ['openid'],
  account: 'alice',
  subject: 'alice',
  createdAt: 1,
  updatedAt: 1
});

const dirs = new Map<FileStore, string>();
runTokenStoreContract('FileStore', {
  make: async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    dirs.set(store, dir);
    return store;
  },
  reopen: async store => openIn(dirs.get(store as FileStore)!),
  breakable: async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    // The directory is gone and a plain file stands in its place: every path in it is ENOTDIR.
    const fail = async (): Promise<void> => {
      await rm(dir, { recursive: true });
      await writeFile(dir, 'not a directory');
    };
    return { store, fail };
  }
});

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('FileStore files and modes', () => {
  test('creates a 0600 key file (64 hex) and a 0600 store file; its missing directory 0700', async () => {
    const dir = join(await freshDir(), 'nested', 'token-broker');
    const store = await openIn(dir);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'store.key'))).toBe(0o600);
    expect((await readFile(join(dir, 'store.key'), 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    await store.put(grant('demo', 'rt-secret-value'));
    expect(await mode(join(dir, 'grants.store'))).toBe(0o600);
    // Encrypted: the refresh token is nowhere in the file, and no temp or lock file is left.
    const bytes = await readFile(join(dir, 'grants.store'));
    expect(bytes.subarray(0, 8).toString()).toBe('JTBSTORE');
    expect(bytes.includes(Buffer.from('rt-secret-value'))).toBe(false);
    // The generation mark beside the store file: the highest generation written (rollback check).
    expect((await readdir(dir)).sort()).toEqual([
      'grants.store',
      'grants.store.generation',
      'store.key'
    ]);
    expect(await mode(join(dir, 'grants.store.generation'))).toBe(0o600);
  });

  test('every write uses a fresh IV: the same grant twice gives different files', async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    await store.put(grant('demo', 'rt'));
    const first = await readFile(join(dir, 'grants.store'));
    await store.put(grant('demo', 'rt'));
    const second = await readFile(join(dir, 'grants.store'));
    expect(first.length).toBe(second.length);
    expect(first.subarray(9, 21).equals(second.subarray(9, 21))).toBe(false);
  });

  test('refuses a store file others can read (0644), naming it, and leaves it alone', async () => {
    const dir = await freshDir();
    await (await openIn(dir)).put(grant('demo', 'rt'));
    await chmod(join(dir, 'grants.store'), 0o644);
    const before = await readFile(join(dir, 'grants.store'));
    const error = await storeIn(dir)
      .open()
      .then(
        () => undefined,
        (e: unknown) => e
      );
    expect(error).toMatchObject({ code: 'store_unavailable', status: 503 });
    expect((error as Error).message).toMatch(
      /store\.type "file".*grants\.store.*mode 644.*chmod 600/
    );
    expect((await readFile(join(dir, 'grants.store'))).equals(before)).toBe(true);
  });

  test('refuses a group-readable key file', async () => {
    const dir = await freshDir();
    await openIn(dir);
    await chmod(join(dir, 'store.key'), 0o640);
    await expect(storeIn(dir).open()).rejects.toThrow(/key file.*store\.key.*mode 640/);
  });

  test('refuses a store directory others can write to', async () => {
    const dir = await freshDir();
    await chmod(dir, 0o777);
    await expect(storeIn(dir).open()).rejects.toThrow(/writable by group or others/);
  });

  test('refuses a store file without its key instead of making a new key', async () => {
    const dir = await freshDir();
    await (await openIn(dir)).put(grant('demo', 'rt'));
    await rm(join(dir, 'store.key'));
    await expect(storeIn(dir).open()).rejects.toThrow(/exists but its key file .* does not/);
    await expect(stat(join(dir, 'store.key'))).rejects.toThrow();
  });

  test('refuses a key file that is not 64 hex characters', async () => {
    const dir = await freshDir();
    await writeFile(join(dir, 'store.key'), 'not-a-key\n', { mode: 0o600 });
    await expect(storeIn(dir).open()).rejects.toThrow(/64 hex characters/);
  });

  test('check mode (create: false) creates nothing', async () => {
    const dir = join(await freshDir(), 'absent');
    const store = new FileStore({
      path: join(dir, 'grants.store'),
      keyFile: join(dir, 'store.key'),
      lock: LOCK,
      create: false
    });
    await store.open();
    await expect(stat(dir)).rejects.toThrow();
  });
});

describe('FileStore integrity', () => {
  test('a tampered file is a clear error on read and write, and nothing is lost', async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    await store.put(grant('demo', 'rt-keep'));
    const file = join(dir, 'grants.store');
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 0x01;
    await writeFile(file, bad);

    await expect(store.get('demo')).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(/failed authentication/)
    });
    // A write must not replace what it cannot read.
    await expect(store.put(grant('other', 'rt-new'))).rejects.toMatchObject({
      code: 'store_unavailable'
    });
    await expect(store.delete('demo')).rejects.toMatchObject({ code: 'store_unavailable' });
    expect((await readFile(file)).equals(bad)).toBe(true);
    await expect(storeIn(dir).open()).rejects.toThrow(/store\.type "file".*failed authentication/);

    // Putting the original bytes back restores the grant.
    await writeFile(file, good);
    expect((await store.get('demo'))?.refreshToken).toBe('rt-keep');
  });

  test('a changed header, a truncated file and another key are refused too', async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    await store.put(grant('demo', 'rt'));
    const file = join(dir, 'grants.store');
    const good = await readFile(file);

    const version = Buffer.from(good);
    version[8] = 2;
    await writeFile(file, version);
    await expect(store.get('demo')).rejects.toThrow(/format version 2/);

    await writeFile(file, good.subarray(0, 20));
    await expect(store.get('demo')).rejects.toThrow(/not a token store file/);

    await writeFile(file, good);
    await writeFile(join(dir, 'store.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    await expect(storeIn(dir).open()).rejects.toThrow(/failed authentication/);
  });
});

describe('FileStore crash safety', () => {
  test('a temp file left by a crashed writer changes nothing and is cleaned up at open', async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    await store.put(grant('demo', 'rt-old'));
    // A writer (pid 2^22 + 1 does not exist) died after writing its temp file, before the rename.
    const temp = join(dir, `grants.store.tmp-${2 ** 22 + 1}-abcdef`);
    await writeFile(temp, randomBytes(100), { mode: 0o600 });
    const second = await openIn(dir);
    expect((await second.get('demo'))?.refreshToken).toBe('rt-old');
    await expect(stat(temp)).rejects.toThrow();
  });

  test('kill -9 of a writing process at any moment leaves a readable store', async () => {
    const dir = await freshDir();
    await (await openIn(dir)).put(grant('demo', 'rt-0'));
    // A child process writing as fast as it can, bundled from the real FileStore source.
    const script = join(dir, 'writer.mjs');
    await build({
      stdin: {
        contents: `
          import { FileStore } from ${JSON.stringify(fileURLToPath(new URL('../../src/stores/file.ts', import.meta.url)))};
          const [path, keyFile] = process.argv.slice(2);
          const store = new FileStore({ path, keyFile, lock: { waitMs: 5000, staleMs: 10000 } });
          await store.open();
          process.stdout.write('ready\\n');
          for (let i = 1; ; i++) {
            await store.put({ provider: 'demo', refreshToken: 'rt-' + i + '-' + 'x'.repeat(i % 5000),
              scopes: ['openid'], account: null, subject: null, createdAt: 1, updatedAt: i });
          }`,
        resolveDir: dir,
        loader: 'ts'
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'error'
    });
    for (let round = 0; round < 8; round++) {
      const child = spawn(
        process.execPath,
        [script, join(dir, 'grants.store'), join(dir, 'store.key')],
        {
          stdio: ['ignore', 'pipe', 'inherit']
        }
      );
      await new Promise<void>(resolve => child.stdout!.once('data', () => resolve()));
      await new Promise(resolve => setTimeout(resolve, 20 + Math.random() * 60));
      const exited = new Promise(resolve => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // Whatever the moment: the store opens, authenticates and holds one complete grant.
      const reader = await openIn(dir);
      const now = await reader.get('demo');
      expect(now?.refreshToken).toMatch(/^rt-\d+(-x*)?$/);
      // The dead writer's lock is taken over at once.
      const started = Date.now();
      await reader.put(grant('demo', 'rt-0'));
      expect(Date.now() - started).toBeLessThan(1500);
    }
    // No temp file, lock or lock candidate of the killed writers is left.
    expect((await readdir(dir)).sort()).toEqual([
      'grants.store',
      'grants.store.generation',
      'store.key',
      'writer.mjs'
    ]);
  }, 60000);
});

describe('FileStore cross-process lock', () => {
  test('two store instances (as two processes would) never hold a grant lock at once', async () => {
    const dir = await freshDir();
    const a = await openIn(dir);
    const b = await openIn(dir);
    let inside = 0;
    let most = 0;
    const task = (store: FileStore, i: number) =>
      store.withLock('demo', async () => {
        inside++;
        most = Math.max(most, inside);
        const current = Number((await store.get('demo'))?.refreshToken ?? '0');
        await new Promise(resolve => setTimeout(resolve, 5));
        await store.put(grant('demo', String(current + 1)));
        inside--;
        return i;
      });
    await Promise.all(Array.from({ length: 10 }, (_, i) => task(i % 2 === 0 ? a : b, i)));
    expect(most).toBe(1);
    // Ten read-increment-writes, none lost.
    expect((await a.get('demo'))?.refreshToken).toBe('10');
    expect((await readdir(dir)).filter(n => n.endsWith('.lock'))).toEqual([]);
  });

  test('writes of different grants from two instances are never lost', async () => {
    const dir = await freshDir();
    const a = await openIn(dir);
    const b = await openIn(dir);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).put(grant(`p${i}`, `rt-${i}`)))
    );
    for (let i = 0; i < 12; i++) expect((await a.get(`p${i}`))?.refreshToken).toBe(`rt-${i}`);
  });

  test("a dead holder's lock is taken over at once", async () => {
    const dir = await freshDir();
    const store = await openIn(dir);
    const dead = {
      pid: 2 ** 22 + 1,
      host: (await import('node:os')).hostname(),
      time: Date.now(),
      nonce: 'x'
    };
    await writeFile(join(dir, 'grants.store.demo.lock'), JSON.stringify(dead), { mode: 0o600 });
    const started = Date.now();
    expect(await store.withLock('demo', async () => 'mine')).toBe('mine');
    expect(Date.now() - started).toBeLessThan(500);
  });

  test('a live holder makes a waiter give up after the bounded wait with store_unavailable', async () => {
    const dir = await freshDir();
    const holder = await openIn(dir);
    const waiter = await openIn(dir, { waitMs: 300, staleMs: 10000 });
    let release!: () => void;
    const held = holder.withLock('demo', () => new Promise<void>(resolve => (release = resolve)));
    await new Promise(resolve => setTimeout(resolve, 20));
    const started = Date.now();
    await expect(waiter.withLock('demo', async () => 'never')).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(/busy.*held by pid \d+/)
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    release();
    await held;
    expect(await waiter.withLock('demo', async () => 'now')).toBe('now');
  });

  test('a lock older than staleMs is taken over even when its holder lives', async () => {
    const dir = await freshDir();
    const store = await openIn(dir, { waitMs: 3000, staleMs: 200 });
    const old = { pid: process.pid, host: 'elsewhere', time: Date.now() - 1000, nonce: 'y' };
    await writeFile(join(dir, 'grants.store.demo.lock'), JSON.stringify(old), { mode: 0o600 });
    expect(await store.withLock('demo', async () => 'taken')).toBe('taken');
  });
});
