/**
 * The `store` section of the config file: each bad key is named.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, test } from '@jest/globals';

import { validateConfig } from '../../src/config.js';

const withStore = (store: unknown) => () => validateConfig({ providers: [], store });

describe('store config', () => {
  test('defaults to memory; file and keyring shapes are filled in', () => {
    expect(validateConfig({ providers: [] }).store).toEqual({ type: 'memory' });
    expect(
      validateConfig({
        providers: [],
        store: { type: 'file', path: '/var/tb/grants.store', key_file: '/var/tb/store.key' }
      }).store
    ).toEqual({ type: 'file', path: '/var/tb/grants.store', key_file: '/var/tb/store.key' });
    expect(validateConfig({ providers: [], store: { type: 'keyring' } }).store).toEqual({
      type: 'keyring',
      service: 'jupyter-token-broker',
      module_path: null,
      lock_dir: join(homedir(), '.cache', 'jupyter-token-broker', 'keyring-locks')
    });
  });

  test.each([
    [{ type: 'vault' }, /config: store\.type: must be "memory", "file" or "keyring"/],
    ['memory', /config: store: must be an object/],
    [{ type: 'memory', path: '/x' }, /config: store\.path: is not an option of the memory store/],
    [{ type: 'file', key_file: '/k' }, /config: store\.path: must be a path/],
    [
      { type: 'file', path: 'grants.store', key_file: '/k' },
      /config: store\.path: must be an absolute path/
    ],
    [{ type: 'file', path: '/s' }, /config: store\.key_file: must be a path/],
    [
      { type: 'file', path: '/s', key_file: '/s' },
      /config: store\.key_file: must not be the store file/
    ],
    [{ type: 'keyring', service: '' }, /config: store\.service: must be 1 to 128/],
    [
      { type: 'keyring', module_path: 'node_modules/x' },
      /config: store\.module_path: must be an absolute path/
    ],
    [{ type: 'keyring', path: '/s' }, /config: store\.path: is not an option of the keyring store/],
    [{ type: 'keyring', lock_dir: 'locks' }, /config: store\.lock_dir: must be an absolute path/]
  ])('%j is refused naming the key', (store, message) => {
    expect(withStore(store)).toThrow(message);
  });
});
