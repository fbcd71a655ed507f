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

/** Where grants are kept. Every method may reject; callers translate that to `store_unavailable`. */
export interface TokenStore {
  /** The grant of a provider, or undefined. */
  get(provider: string): Promise<Grant | undefined>;
  /** Stores (replaces) the grant of `grant.provider`. Resolves only once it is durable. */
  put(grant: Grant): Promise<void>;
  /** Forgets the grant of a provider; no error when there is none. */
  delete(provider: string): Promise<void>;
  /** Releases resources. */
  close(): Promise<void>;
}
