/**
 * The interface of a grant store. A grant is what lets the broker get new access tokens without the
 * user: the refresh token and what is known about the sign-in. One broker serves one user, so grants
 * are keyed by provider id only. Implementations live beside this file; `index.ts` picks one.
 *
 * Several broker processes may share one durable store (two Jupyter servers of one user on the same
 * file store). They coordinate through {@link TokenStore.withLock}: a refresh holds the grant's lock
 * from reading the refresh token to storing the rotated one, and stores the access token it got as
 * {@link Grant.lastToken}, so a broker that waited for the lock re-reads the grant and uses that token
 * instead of spending the (already rotated) refresh token a second time.
 */
import type { AccessToken } from '../accessToken.js';

/**
 * An access token shared through the store with other brokers on it. Never log it.
 */
export interface SharedToken extends Omit<AccessToken, 'lifetime'> {
  /** The scope-set key it was asked for (`accessToken.scopeKey`; `''` = the grant's default set). */
  readonly scopeKey: string;
  /**
   * The lifetime its issuer gave it (`expires_in`), which caps the refresh margin and the default
   * `min_ttl` at half; absent in grants stored by older brokers.
   */
  readonly lifetime?: number;
}

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
  /**
   * The IdP session of the sign-in (the ID token's `sid`), when it said: a new sign-in in the same
   * session may share the grant at the IdP, so the replaced one is not revoked then.
   */
  readonly session?: string | null;
  /** When the person authenticated at the IdP (the ID token's `auth_time`), when it said; ditto. */
  readonly authTime?: number | null;
  /** Epoch seconds of the sign-in. */
  readonly createdAt: number;
  /** Epoch seconds of the last change (rotation). */
  readonly updatedAt: number;
  /** The newest access token got with this grant (sign-in or refresh), for other brokers on the store. */
  readonly lastToken?: SharedToken | null;
}

/**
 * Where grants are kept. A store translates its own failures: every method rejects only with
 * `StoreUnavailable` (503 `store_unavailable`, naming the store type and the problem, never a
 * secret), so callers pass its rejections on as they are. `withLock` passes the task's own errors on
 * unchanged.
 */
export interface TokenStore {
  /**
   * Whether grants and records outlive the process (file, keyring): a broker on a store that is
   * not durable (memory) loses every sign-in when it stops, so it never stops when idle while it
   * holds one (`idleExit.ts`).
   */
  readonly durable: boolean;
  /**
   * Checks, once at start-up, that the store is usable (files and their modes, the key, a Secret
   * Service that answers). Rejects with `store_unavailable` naming `store.type` and the problem.
   */
  open(): Promise<void>;
  /** The grant of a provider, or undefined. */
  get(provider: string): Promise<Grant | undefined>;
  /** Stores (replaces) the grant of `grant.provider`. Resolves only once it is durable. */
  put(grant: Grant): Promise<void>;
  /** Forgets the grant of a provider; no error when there is none. */
  delete(provider: string): Promise<void>;
  /**
   * Runs `task` holding the lock of `key` (a provider id) in this process and in every other process
   * sharing the store; tasks of one key never overlap. Not re-entrant. `get`, `put` and `delete`
   * may be called inside `task`. Rejects with `store_unavailable` when the lock cannot be had in a
   * bounded time.
   */
  withLock<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Releases resources. */
  close(): Promise<void>;
}
