/**
 * The one access token type the broker hands out, caches, shares through the store and gets from
 * every upstream (a provider's {@link TokenSet} is one with a refresh token beside it), and the rules
 * of its life: when it must be replaced, how long it has for a caller.
 */

/** An access token the broker may hand out. Never log it. */
export interface AccessToken {
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
 * The access token alone, without what came with it (a refresh token, ID token claims), so a cache
 * or a shared copy can never hold more than the access token.
 *
 * @param tokens - a token endpoint's answer, or any access token
 * @returns a new object with only the access token's fields
 * @example
 * ```ts
 * cache.set('demo', scopeKey(undefined), accessTokenOf(tokenSet));
 * ```
 */
export function accessTokenOf(tokens: AccessToken): AccessToken {
  const { accessToken, tokenType, expiresAt, scopes, lifetime } = tokens;
  return { accessToken, tokenType, expiresAt, scopes, lifetime };
}

/**
 * The key of a scope request: `''` is the provider's default set (what the grant holds).
 *
 * @param scopes - the scopes asked, or undefined for the default set
 * @returns a stable key
 * @example
 * ```ts
 * scopeKey(['write', 'read', 'read']); // 'read write'
 * ```
 */
export function scopeKey(scopes: readonly string[] | undefined): string {
  return scopes === undefined ? '' : [...new Set(scopes)].sort().join(' ');
}

/**
 * Whether a token must be replaced before it can be handed out.
 *
 * @param token - the token held, if any
 * @param now - epoch seconds
 * @param minTtl - seconds the caller needs the token to stay valid
 * @param margin - replace this many seconds ahead of expiry even when the caller needs less
 * @returns true when the token is missing or has less than `max(minTtl, margin)` seconds left
 * @example
 * ```ts
 * shouldRefresh({ expiresAt: 1000 }, 980, 30, 30); // true
 * ```
 */
export function shouldRefresh(
  token: Pick<AccessToken, 'expiresAt'> | undefined,
  now: number,
  minTtl: number,
  margin: number
): boolean {
  return token === undefined || token.expiresAt - now < Math.max(minTtl, margin);
}

/**
 * Seconds a new token has for a caller who asked at `asked`: counted from the ask, and never more
 * than the lifetime its issuer gave it.
 *
 * @param token - a token just got from upstream
 * @param asked - epoch seconds when the caller asked
 * @returns the seconds to compare with `min_ttl`
 * @example
 * ```ts
 * secondsLeft({ expiresAt: 1061, lifetime: 60 } as AccessToken, 1000); // 60
 * ```
 */
export function secondsLeft(token: AccessToken, asked: number): number {
  return Math.min(token.expiresAt - asked, token.lifetime);
}
