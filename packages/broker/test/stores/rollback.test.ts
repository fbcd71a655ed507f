/**
 * Issue 11, defect 11: the file store accepted an older genuine copy of itself, so a store file put
 * back after a sign-out brought the ended grant back. Now every write seals a generation and a copy
 * older than one already seen is refused with `store_rolled_back`.
 */
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';
import { FileStore } from '../../src/stores/file.js';

let idp: IdP;
let dir: string;
beforeAll(async () => {
  idp = await startIdP();
  dir = await mkdtemp(join(tmpdir(), 'tb-rollback-'));
});
afterAll(async () => {
  await idp.close();
  await rm(dir, { recursive: true, force: true });
});

const LOCK = { waitMs: 2000, staleMs: 10000 };

async function openStore(path: string): Promise<FileStore> {
  const store = new FileStore({
    path,
    keyFile: join(dir, `${path.split('/').pop()}.key`),
    lock: LOCK
  });
  await store.open();
  return store;
}

async function brokerOn(store: FileStore): Promise<TestBroker> {
  return startBroker(idp, { store });
}

describe('a rolled-back store file', () => {
  test('put back after a sign-out is refused with store_rolled_back; the grant stays ended', async () => {
    const path = join(dir, 'a.store');
    const store = await openStore(path);
    const broker = await brokerOn(store);
    const saved = join(dir, 'a.store.saved');
    let refreshToken: string | null | undefined;
    try {
      expect((await broker.login()).status).toBe(200);
      refreshToken = (await store.get('demo'))?.refreshToken;
      expect(refreshToken).toBeTruthy();
      await copyFile(path, saved);
      expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBeLessThan(
        300
      );
      expect(await store.get('demo')).toBeUndefined();

      await copyFile(saved, path);
      broker.advance(3600); // the cached access token is long gone: the store must be read
      // The sign-out is not undone: not in the store, not in the provider list (the panel).
      await expect(store.get('demo')).rejects.toMatchObject({ code: 'store_rolled_back' });
      const list = await broker.request('GET', '/api/v1/providers');
      expect(JSON.stringify(list.json)).not.toMatch(/"signed_in":true/);
      const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
      expect(token.status).toBe(503);
      expect(token.json.error).toBe('store_rolled_back');
      expect(token.headers['retry-after']).toBeUndefined();
      expect(token.json.error_description).toContain(path);
      expect(token.json.error_description).toMatch(/older copy/);
      expect(token.json.error_description).toMatch(/To fix it: remove /);
      expect(token.json.error_description).not.toContain(refreshToken as string);
    } finally {
      await broker.close();
      await store.close();
    }

    // A broker started afterwards (the in-memory mark is gone) still refuses it: the mark file.
    const restarted = new FileStore({ path, keyFile: join(dir, 'a.store.key'), lock: LOCK });
    await expect(restarted.open()).rejects.toMatchObject({ code: 'store_rolled_back' });
    // Removing the stale copy is the documented way out: an empty store, and writes go on.
    await rm(path);
    const fresh = await openStore(path);
    expect(await fresh.get('demo')).toBeUndefined();
    await fresh.put({
      provider: 'demo',
      refreshToken: 'rt-new',
      scopes: ['openid'],
      account: 'alice',
      subject: 'alice',
      createdAt: 1,
      updatedAt: 1
    });
    expect((await fresh.get('demo'))?.refreshToken).toBe('rt-new');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(Number(await readFile(`${path}.generation`, 'utf8'))).toBeGreaterThan(0);
    await fresh.close();
  }, 30000);

  test('a copy put back with its mark file is refused while a broker runs (its memory)', async () => {
    const path = join(dir, 'b.store');
    const store = await openStore(path);
    const broker = await brokerOn(store);
    try {
      expect((await broker.login()).status).toBe(200);
      await copyFile(path, join(dir, 'b.saved'));
      await copyFile(`${path}.generation`, join(dir, 'b.saved.generation'));
      await broker.request('DELETE', '/api/v1/providers/demo/grant');
      await copyFile(join(dir, 'b.saved'), path);
      await copyFile(join(dir, 'b.saved.generation'), `${path}.generation`);
      await expect(store.get('demo')).rejects.toMatchObject({ code: 'store_rolled_back' });
    } finally {
      await broker.close();
      await store.close();
    }
  }, 30000);

  test('two stores on one file (two brokers) never see each other as stale', async () => {
    const path = join(dir, 'c.store');
    const one = await openStore(path);
    const two = await openStore(path);
    const grant = (n: number) => ({
      provider: `p${n % 3}`,
      refreshToken: `rt-${n}`,
      scopes: ['openid'],
      account: 'alice',
      subject: 'alice',
      createdAt: 1,
      updatedAt: 1
    });
    await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        Promise.all([(n % 2 ? one : two).put(grant(n)), (n % 2 ? two : one).get('p1')])
      )
    );
    expect(await one.get('p0')).toBeDefined();
    expect(await two.get('p2')).toBeDefined();
    await one.close();
    await two.close();
  }, 30000);
});
