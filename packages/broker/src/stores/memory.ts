import { KeyedMutex } from './keyedMutex.js';
import { copyGrant } from './grantCodec.js';
import type { Grant, TokenStore } from './tokenStore.js';

/**
 * Keeps grants in process memory only: a broker restart signs every provider out. Grants are
 * frozen copies so a caller cannot change a stored grant by mutating what it got. Its lock is
 * in-process only: nothing else can share a memory store.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await store.delete('demo');
 * ```
 */
export class MemoryStore implements TokenStore {
  private readonly grants = new Map<string, Grant>();
  private readonly mutex = new KeyedMutex();
  /** Nothing outlives the process. */
  readonly durable = false;

  /** {@inheritDoc TokenStore.open} */
  async open(): Promise<void> {}

  /** {@inheritDoc TokenStore.get} */
  async get(provider: string): Promise<Grant | undefined> {
    return this.grants.get(provider);
  }

  /** {@inheritDoc TokenStore.put} */
  async put(grant: Grant): Promise<void> {
    this.grants.set(grant.provider, copyGrant(grant));
  }

  /** {@inheritDoc TokenStore.delete} */
  async delete(provider: string): Promise<void> {
    this.grants.delete(provider);
  }

  /** {@inheritDoc TokenStore.withLock} */
  withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.mutex.run(key, task);
  }

  /** {@inheritDoc TokenStore.close} */
  async close(): Promise<void> {
    this.grants.clear();
  }
}
