/**
 * The OS keychain store against a real Secret Service: gnome-keyring on a private D-Bus session bus
 * that jest's globalSetup starts (`secretService.mjs`). Skipped, saying why, only where dbus or
 * gnome-keyring is not installed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';

import { KeyringStore, loadKeyringModule } from '../../src/stores/keyring.js';
import { runTokenStoreContract } from './contract.js';

const status = process.env.TB_TEST_SECRET_SERVICE ?? 'missing: jest globalSetup did not run';
if (status !== 'ready') console.warn(`SKIPPED keyring store tests: ${status}`);
const describeKeyring = status === 'ready' ? describe : describe.skip;

const serviceName = (): string => `jtb-test-${randomBytes(6).toString('hex')}`;

/** Every store of this file keeps its lock files here (created by the first open). */
const lockDir = join(mkdtempSync(join(tmpdir(), 'tb-keyring-')), 'locks');
const LOCK = { waitMs: 5000, staleMs: 20000 };

async function openKeyring(name = serviceName()): Promise<KeyringStore> {
  const store = new KeyringStore({ service: name, modulePath: null, lockDir, lock: LOCK });
  await store.open();
  return store;
}

describeKeyring('KeyringStore (real Secret Service)', () => {
  const names = new Map<KeyringStore, string>();
  runTokenStoreContract('KeyringStore', {
    make: async () => {
      const name = serviceName();
      const store = await openKeyring(name);
      names.set(store, name);
      return store;
    },
    reopen: async store => openKeyring(names.get(store as KeyringStore)!),
    breakable: async () => {
      // The real binding, until `fail` makes every keychain call throw as when the Secret Service
      // goes away under a running broker.
      const real = loadKeyringModule(null);
      let broken = false;
      const check = (): void => {
        if (broken) throw new Error('org.freedesktop.DBus.Error.ServiceUnknown');
      };
      class AsyncEntry extends real.AsyncEntry {
        override async getPassword() {
          check();
          return super.getPassword();
        }
        override async setPassword(password: string) {
          check();
          return super.setPassword(password);
        }
        override async deletePassword() {
          check();
          return super.deletePassword();
        }
      }
      const store = new KeyringStore({
        service: serviceName(),
        modulePath: null,
        load: () => ({ ...real, AsyncEntry }),
        lockDir,
        lock: LOCK
      });
      await store.open();
      return { store, fail: async () => void (broken = true) };
    }
  });

  test('one Secret Service entry per grant: service, account <user>/<provider>, JSON grant', async () => {
    const name = serviceName();
    const store = await openKeyring(name);
    await store.put({
      provider: 'demo',
      refreshToken: 'rt-in-keychain',
      scopes: ['openid'],
      account: 'alice',
      subject: 'alice',
      createdAt: 1,
      updatedAt: 1
    });
    const { findCredentialsAsync } = loadKeyringModule(null);
    const entries = await findCredentialsAsync(name);
    expect(entries.map(e => e.account)).toEqual([store.account('demo')]);
    expect(store.account('demo')).toMatch(/^[^/]+\/demo$/);
    expect(JSON.parse(entries[0].password)).toMatchObject({ refreshToken: 'rt-in-keychain' });
    await store.delete('demo');
    // The start-up probe entry was removed too: nothing is left behind.
    expect(await findCredentialsAsync(name)).toEqual([]);
  });

  test('two stores of one service (as in two processes) hold the grant lock one at a time, through a file in lock_dir', async () => {
    const name = serviceName();
    const [a, b] = [await openKeyring(name), await openKeyring(name)];
    expect((statSync(lockDir).mode & 0o777).toString(8)).toBe('700');
    const order: string[] = [];
    let releaseA!: () => void;
    const holdingA = a.withLock('demo', async () => {
      order.push('a in');
      expect(readdirSync(lockDir)).toContain(a.lockPath('demo').split('/').pop());
      await new Promise<void>(resolve => (releaseA = resolve));
      order.push('a out');
    });
    await new Promise(resolve => setTimeout(resolve, 50));
    const holdingB = b.withLock('demo', async () => {
      order.push('b in');
    });
    // B's own mutex is free: only the lock file keeps it out while A holds the grant.
    await new Promise(resolve => setTimeout(resolve, 300));
    expect(order).toEqual(['a in']);
    releaseA();
    await Promise.all([holdingA, holdingB]);
    expect(order).toEqual(['a in', 'a out', 'b in']);
    // Another service's lock of the same provider is another file.
    const other = await openKeyring();
    expect(other.lockPath('demo')).not.toBe(a.lockPath('demo'));
    await other.withLock('demo', async () => undefined);
  });

  test('a keychain entry that is not a grant is store_unavailable, not a sign-out', async () => {
    const name = serviceName();
    const store = await openKeyring(name);
    const { AsyncEntry } = loadKeyringModule(null);
    await new AsyncEntry(name, store.account('demo'), {
      linux: { store: 'secret-service' }
    }).setPassword('{not json');
    await expect(store.get('demo')).rejects.toMatchObject({ code: 'store_unavailable' });
  });
});

describe('KeyringStore binding', () => {
  test('a lock_dir that cannot be made is a clear start-up error naming store.lock_dir', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tb-keyring-')), 'a-file');
    writeFileSync(file, '');
    const store = new KeyringStore({
      service: serviceName(),
      modulePath: null,
      lockDir: join(file, 'locks'),
      lock: LOCK
    });
    await expect(store.open()).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(/store\.type "keyring": store\.lock_dir cannot be used/)
    });
  });

  test('a binding that cannot be loaded is a clear start-up error naming store.module_path', async () => {
    const store = new KeyringStore({
      service: serviceName(),
      modulePath: '/nonexistent/@napi-rs/keyring',
      lockDir,
      lock: LOCK
    });
    await expect(store.open()).rejects.toMatchObject({
      code: 'store_unavailable',
      message: expect.stringMatching(
        /store\.type "keyring": cannot load @napi-rs\/keyring.*store\.module_path/
      )
    });
  });
});
