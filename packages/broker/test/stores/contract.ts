/**
 * The contract every TokenStore implementation must meet; each implementation's test file runs it.
 */
import { describe, expect, test } from '@jest/globals';

import { StoreUnavailable } from '../../src/errors.js';
import type { StoreWithRecords } from '../../src/stores/records.js';
import type { Grant, TokenStore } from '../../src/stores/tokenStore.js';

const grant = (provider: string, refreshToken: string | null = 'rt-1'): Grant => ({
  provider,
  refreshToken,
  scopes: ['openid', 'demo:read'],
  account: 'alice',
  subject: 'alice',
  createdAt: 1,
  updatedAt: 1
});

/** A store under test and, for durable stores, a way to open a second one on the same data. */
export interface ContractSubject {
  /** Makes an empty, opened store. */
  make(): Promise<TokenStore>;
  /** Opens another store on the same data as `store` (another process would); durable stores only. */
  reopen?(store: TokenStore): Promise<TokenStore>;
  /**
   * Makes an opened store and a way to break what lies under it (its files, its keychain), for
   * stores that can fail at all.
   */
  breakable?(): Promise<{ store: TokenStore; fail(): Promise<void> }>;
}

/**
 * Runs the TokenStore contract.
 *
 * @param name - the implementation's name
 * @param subject - makes stores (a function: stores that do not outlive their process)
 */
export function runTokenStoreContract(
  name: string,
  subject: ContractSubject | (() => Promise<TokenStore>)
): void {
  const {
    make: makeStore,
    reopen,
    breakable
  } = typeof subject === 'function' ? { make: subject } : subject;

  describe(`TokenStore contract: ${name}`, () => {
    test('get of a missing grant is undefined', async () => {
      const store = await makeStore();
      expect(await store.get('demo')).toBeUndefined();
      await store.close();
    });

    test('put then get returns an equal grant; put replaces', async () => {
      const store = await makeStore();
      await store.put(grant('demo'));
      expect(await store.get('demo')).toEqual(grant('demo'));
      await store.put(grant('demo', 'rt-2'));
      expect((await store.get('demo'))?.refreshToken).toBe('rt-2');
      await store.close();
    });

    test('a grant without a refresh token and one with a shared last token round-trip', async () => {
      const store = await makeStore();
      await store.put(grant('none', null));
      expect(await store.get('none')).toEqual(grant('none', null));
      const withToken: Grant = {
        ...grant('demo'),
        lastToken: {
          scopeKey: '',
          accessToken: 'at-1',
          tokenType: 'Bearer',
          expiresAt: 1234,
          scopes: ['openid']
        }
      };
      await store.put(withToken);
      expect(await store.get('demo')).toEqual(withToken);
      await store.close();
    });

    test('grants of different providers are separate', async () => {
      const store = await makeStore();
      await store.put(grant('a', 'rt-a'));
      await store.put(grant('b', 'rt-b'));
      await store.delete('a');
      expect(await store.get('a')).toBeUndefined();
      expect((await store.get('b'))?.refreshToken).toBe('rt-b');
      await store.close();
    });

    test('delete is idempotent', async () => {
      const store = await makeStore();
      await store.delete('demo');
      await store.put(grant('demo'));
      await store.delete('demo');
      await store.delete('demo');
      expect(await store.get('demo')).toBeUndefined();
      await store.close();
    });

    test('changing a grant after put does not change the stored one', async () => {
      const store = await makeStore();
      const g = { ...grant('demo'), scopes: ['openid'] };
      await store.put(g);
      g.scopes.push('admin');
      expect((await store.get('demo'))?.scopes).toEqual(['openid']);
      await store.close();
    });

    test('tasks holding the lock of one key never overlap; other keys are not blocked', async () => {
      const store = await makeStore();
      let inside = 0;
      let most = 0;
      const order: string[] = [];
      const task = (label: string) => async () => {
        inside++;
        most = Math.max(most, inside);
        order.push(`in ${label}`);
        await new Promise(resolve => setTimeout(resolve, 20));
        // get/put/delete work while the lock is held
        await store.put(grant('demo', `rt-${label}`));
        order.push(`out ${label}`);
        inside--;
        return label;
      };
      const other = store.withLock('other', async () => 'other');
      const results = await Promise.all(['1', '2', '3'].map(l => store.withLock('demo', task(l))));
      expect(await other).toBe('other');
      expect(results).toEqual(['1', '2', '3']);
      expect(most).toBe(1);
      expect(order).toEqual(['in 1', 'out 1', 'in 2', 'out 2', 'in 3', 'out 3']);
      expect((await store.get('demo'))?.refreshToken).toBe('rt-3');
      await store.close();
    });

    test('a task that throws releases the lock', async () => {
      const store = await makeStore();
      await expect(
        store.withLock('demo', async () => {
          throw new Error('boom');
        })
      ).rejects.toThrow('boom');
      expect(await store.withLock('demo', async () => 'next')).toBe('next');
      await store.close();
    });

    test('records (when the store keeps them) are separate from grants, per namespace, durable', async () => {
      const store = await makeStore();
      const records = (store as Partial<StoreWithRecords>).records;
      if (records === undefined) {
        await store.close();
        return;
      }
      expect(await records.getRecords('consents')).toEqual({});
      await records.putRecord('consents', 'plugin demo', '{"decision":"deny"}');
      await records.putRecord('consents', 'other demo', 'x');
      await records.putRecord('revocations', 'r1', 'secret-rt');
      await records.deleteRecord('consents', 'other demo');
      await records.deleteRecord('consents', 'missing');
      expect(await records.getRecords('consents')).toEqual({
        'plugin demo': '{"decision":"deny"}'
      });
      expect(await records.getRecords('revocations')).toEqual({ r1: 'secret-rt' });
      expect(await store.get('consents')).toBeUndefined();
      if (reopen !== undefined) {
        const second = (await reopen(store)) as Partial<StoreWithRecords>;
        expect(await second.records?.getRecords('revocations')).toEqual({ r1: 'secret-rt' });
      }
      await records.deleteRecord('revocations', 'r1');
      expect(await records.getRecords('revocations')).toEqual({});
      await store.close();
    });

    if (breakable !== undefined) {
      test('a store whose backing fails answers store_unavailable (503, Retry-After) without its secrets', async () => {
        const { store, fail } = await breakable();
        await store.put(grant('demo', 'rt-must-not-leak'));
        const records = (store as Partial<StoreWithRecords>).records;
        await records?.putRecord('revocations', 'r1', 'rt-queued-must-not-leak');
        await fail();
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get('demo')],
          ['put', () => store.put(grant('demo', 'rt-2'))],
          ['delete', () => store.delete('demo')]
        ];
        if (records !== undefined) {
          calls.push(
            ['getRecords', () => records.getRecords('revocations')],
            ['putRecord', () => records.putRecord('revocations', 'r2', 'x')],
            ['deleteRecord', () => records.deleteRecord('revocations', 'r1')]
          );
        }
        for (const [name, call] of calls) {
          const err = await call().then(
            () => new Error(`${name} did not fail`),
            (e: unknown) => e
          );
          expect({ name, err }).toMatchObject({
            name,
            err: { code: 'store_unavailable', status: 503, retryAfter: 5 }
          });
          expect(err).toBeInstanceOf(StoreUnavailable);
          expect((err as Error).message).not.toMatch(/must-not-leak/);
        }
        // The lock may still work (a keychain's lock is a file beside it); if not, it says why.
        await store
          .withLock('demo', async () => undefined)
          .catch((err: unknown) => {
            expect(err).toBeInstanceOf(StoreUnavailable);
          });
        await store.close();
      });
    }

    if (reopen !== undefined) {
      test('what one store wrote, a second store on the same data reads (durable)', async () => {
        const store = await makeStore();
        await store.put(grant('demo', 'rt-durable'));
        const second = await reopen(store);
        expect((await second.get('demo'))?.refreshToken).toBe('rt-durable');
        await second.delete('demo');
        expect(await store.get('demo')).toBeUndefined();
        await second.close();
        await store.close();
      });
    }
  });
}
