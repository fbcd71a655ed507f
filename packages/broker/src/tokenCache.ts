/**
 * Access tokens the broker already holds, in memory only, keyed by provider and scope set. Never
 * persisted: a restart only costs one refresh per provider.
 */

/** An access token the broker may hand out. Never log it. */
export interface CachedToken {
  readonly accessToken: string;
  readonly tokenType: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Scopes this token carries. */
  readonly scopes: readonly string[];
  /**
   * Seconds it had left when the broker received it: a fresh token's lifetime. `min_ttl` is
   * checked against it, so the answer does not depend on which second boundary the exchange crossed.
   */
  readonly lifetime: number;
}

/**
 * The cache key of a scope request: `''` is the provider's default set (what the grant holds).
 *
 * @param scopes - the scopes asked, or undefined for the default set
 * @returns a stable key
 */
export function scopeKey(scopes: readonly string[] | undefined): string {
  return scopes === undefined ? '' : [...new Set(scopes)].sort().join(' ');
}

/**
 * Cached access tokens per provider.
 *
 * @example
 * ```ts
 * const cache = new TokenCache();
 * cache.forget('demo');
 * ```
 */
export class TokenCache {
  private readonly byProvider = new Map<string, Map<string, CachedToken>>();

  /**
   * @param provider - provider id
   * @param key - from {@link scopeKey}
   * @returns the cached token, if any (possibly expired: callers decide with `shouldRefresh`)
   */
  get(provider: string, key: string): CachedToken | undefined {
    return this.byProvider.get(provider)?.get(key);
  }

  /** Stores a token under provider and scope key. */
  set(provider: string, key: string, token: CachedToken): void {
    let tokens = this.byProvider.get(provider);
    if (tokens === undefined) {
      tokens = new Map();
      this.byProvider.set(provider, tokens);
    }
    tokens.set(key, Object.freeze({ ...token }));
  }

  /** Forgets every token of a provider (sign-out, ended grant). */
  forget(provider: string): void {
    this.byProvider.delete(provider);
  }
}
