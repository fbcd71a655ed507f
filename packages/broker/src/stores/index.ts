import type { StoreConfig } from '../config.js';
import { MemoryStore } from './memory.js';
import type { TokenStore } from './tokenStore.js';

export type { Grant, TokenStore } from './tokenStore.js';
export { MemoryStore } from './memory.js';

/**
 * Picks the store implementation named by the config.
 *
 * @param config - the `store` section
 * @returns a ready store
 * @example
 * ```ts
 * const store = createStore({ type: 'memory' });
 * ```
 */
export function createStore(config: StoreConfig): TokenStore {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
  }
}
