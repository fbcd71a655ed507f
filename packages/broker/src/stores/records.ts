/**
 * Small records kept beside the grants (plugin consents, pending upstream revocations), as durably
 * as the grants: a store that outlives the process exposes a {@link RecordStore} as `records`; for
 * any other store (memory) the records live in memory, which is as durable as its grants.
 */
import type { TokenStore } from './tokenStore.js';

/**
 * A record space. A namespace is a short fixed name (`consents`, `revocations`); keys and values are
 * strings the caller encodes. Values may hold secrets (a refresh token waiting to be revoked), so an
 * implementation keeps them as it keeps grants, and fails as its store does: only with
 * `StoreUnavailable`.
 */
export interface RecordStore {
  /** Every record of a namespace, key to value (empty when there is none). */
  getRecords(namespace: string): Promise<Readonly<Record<string, string>>>;
  /** Stores (replaces) one record. Resolves only once it is durable. */
  putRecord(namespace: string, key: string, value: string): Promise<void>;
  /** Forgets one record; no error when there is none. */
  deleteRecord(namespace: string, key: string): Promise<void>;
}

/** A token store that also keeps records durably. */
export interface StoreWithRecords {
  readonly records: RecordStore;
}

/**
 * Records in process memory.
 *
 * @example
 * ```ts
 * const records = new MemoryRecords();
 * await records.putRecord('consents', 'plugin demo', '{"decision":"deny"}');
 * ```
 */
export class MemoryRecords implements RecordStore {
  private readonly spaces = new Map<string, Map<string, string>>();

  /** {@inheritDoc RecordStore.getRecords} */
  async getRecords(namespace: string): Promise<Readonly<Record<string, string>>> {
    return Object.fromEntries(this.spaces.get(namespace) ?? []);
  }

  /** {@inheritDoc RecordStore.putRecord} */
  async putRecord(namespace: string, key: string, value: string): Promise<void> {
    let space = this.spaces.get(namespace);
    if (space === undefined) {
      space = new Map();
      this.spaces.set(namespace, space);
    }
    space.set(key, value);
  }

  /** {@inheritDoc RecordStore.deleteRecord} */
  async deleteRecord(namespace: string, key: string): Promise<void> {
    this.spaces.get(namespace)?.delete(key);
  }
}

/**
 * The store's durable records, or a memory record space when it has none.
 *
 * @param store - the token store
 * @returns where to keep records
 * @example
 * ```ts
 * const records = recordsOf(new MemoryStore()); // a MemoryRecords
 * ```
 */
export function recordsOf(store: TokenStore): RecordStore {
  const records = (store as Partial<StoreWithRecords>).records;
  return records ?? new MemoryRecords();
}
