/**
 * The interface of a grant store. A grant is what lets the broker get new access tokens without the
 * user: the refresh token and what is known about the sign-in. One broker serves one user, so grants
 * are keyed by provider id only. Implementations live beside this file; `index.ts` picks one.
 */

/** A stored grant. Holds a refresh token: never log or return it. */
export interface Grant {
  /** Provider id (validated). */
  readonly provider: string;
  /** The refresh token, or null when the IdP issued none (the grant ends with its access token). */
  readonly refreshToken: string | null;
  /** Scopes the IdP granted at sign-in. */
  readonly scopes: readonly string[];
  /** Label of the signed-in account (preferred_username, email, name or sub). */
  readonly account: string | null;
  /** The `sub` claim of the sign-in. */
  readonly subject: string | null;
  /** Epoch seconds of the sign-in. */
  readonly createdAt: number;
  /** Epoch seconds of the last change (rotation). */
  readonly updatedAt: number;
}

/**
 * Small records kept beside the grants, as durably as the grants (plugin consents, pending upstream
 * revocations). A namespace is a short fixed name (`consents`, `revocations`); keys and values are
 * strings the caller encodes. Values may hold secrets (a refresh token waiting to be revoked).
 */
export interface RecordStore {
  /** Every record of a namespace, key to value (empty when there is none). */
  getRecords(namespace: string): Promise<Readonly<Record<string, string>>>;
  /** Stores (replaces) one record. Resolves only once it is durable. */
  putRecord(namespace: string, key: string, value: string): Promise<void>;
  /** Forgets one record; no error when there is none. */
  deleteRecord(namespace: string, key: string): Promise<void>;
}

/** Where grants are kept. Every method may reject; callers translate that to `store_unavailable`. */
export interface TokenStore {
  /**
   * Durable records beside the grants, for stores that outlive the process. A store without it
   * (memory) leaves callers to keep their records in memory, which is as durable as its grants.
   */
  readonly records?: RecordStore;
  /** The grant of a provider, or undefined. */
  get(provider: string): Promise<Grant | undefined>;
  /** Stores (replaces) the grant of `grant.provider`. Resolves only once it is durable. */
  put(grant: Grant): Promise<void>;
  /** Forgets the grant of a provider; no error when there is none. */
  delete(provider: string): Promise<void>;
  /** Releases resources. */
  close(): Promise<void>;
}
