/**
 * The contract every TokenStore implementation must meet; each implementation's test file runs it.
 */
import { describe, expect, test } from '@jest/globals';

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

/**
 * Runs the TokenStore contract.
 *
 * @param name - the implementation's name
 * @param makeStore - makes an empty store
 */
export function runTokenStoreContract(name: string, makeStore: () => Promise<TokenStore>): void {
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
  });
}
