import { FileStore } from './file.js';
import type { FileLockOptions } from './fileLock.js';
import { KeyringStore } from './keyring.js';
import { MemoryStore } from './memory.js';
import type { StoreConfig } from './storeConfig.js';
import type { TokenStore } from './tokenStore.js';

export type { Grant, SharedToken, TokenStore } from './tokenStore.js';
export type { RecordStore, StoreWithRecords } from './records.js';
export { MemoryRecords, recordsOf } from './records.js';
export type { StoreConfig } from './storeConfig.js';
export { FileStore } from './file.js';
export { KeyringStore } from './keyring.js';
export { MemoryStore } from './memory.js';

/** What the store needs besides its config section. */
export interface StoreOptions {
  /**
   * The deadline of one identity provider call, in ms: a refresh holds its grant's lock for at most
   * about two of them (discovery and the token call), so the cross-process lock waits and goes
   * stale relative to it.
   */
  readonly upstreamTimeoutMs?: number;
  /** Whether opening may create files (false for `check-config`). */
  readonly create?: boolean;
}

/**
 * How long a broker waits for another process's refresh, and when a lock is stale: a refresh holds
 * the lock for at most a few upstream calls.
 *
 * @param options - the upstream deadline
 * @returns the timing of the cross-process locks
 */
function lockTiming(options: StoreOptions): FileLockOptions {
  const upstream = options.upstreamTimeoutMs ?? 10000;
  return { waitMs: 2 * upstream + 5000, staleMs: 3 * upstream + 10000 };
}

/**
 * Picks the store implementation named by the config. Does no I/O: call `open()` (or use
 * {@link openStore}) before use.
 *
 * @param config - the `store` section
 * @param options - lock timing and whether to create files
 * @returns the store
 * @example
 * ```ts
 * const store = createStore({ type: 'memory' });
 * ```
 */
export function createStore(config: StoreConfig, options: StoreOptions = {}): TokenStore {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
    case 'file':
      return new FileStore({
        path: config.path,
        keyFile: config.key_file,
        create: options.create,
        lock: lockTiming(options)
      });
    case 'keyring':
      return new KeyringStore({
        service: config.service,
        modulePath: config.module_path,
        lockDir: config.lock_dir,
        create: options.create,
        lock: lockTiming(options)
      });
  }
}

/**
 * Creates the configured store and checks that it is usable.
 *
 * @param config - the `store` section
 * @param options - lock timing and whether to create files
 * @returns the open store
 * @throws {@link StoreUnavailable} (`store_unavailable`) naming `store.type` and the problem
 */
export async function openStore(
  config: StoreConfig,
  options: StoreOptions = {}
): Promise<TokenStore> {
  const store = createStore(config, options);
  await store.open();
  return store;
}
