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
 * The most seconds a refresh margin or a default `min_ttl` takes of a token: half its lifetime, so
 * any lifetime (10 s, 30 s, an hour) gets a token that is used for about half its life before it is
 * replaced, never one refreshed on every request. Rounded down, but at least 1 s, so a token is
 * never handed out with 0 s left by default.
 *
 * @param lifetime - the token's lifetime in seconds (as its issuer gave it), or undefined when unknown
 * @returns half the lifetime in whole seconds (at least 1), or Infinity when unknown (no cap)
 * @example
 * ```ts
 * halfLife(30); // 15
 * ```
 */
export function halfLife(lifetime: number | undefined): number {
  return lifetime === undefined ? Infinity : Math.max(1, Math.floor(lifetime / 2));
}

/**
 * Seconds `expiresAt - now` must reach for a caller: an explicit `min_ttl` plus the one second the
 * clock's rounding may hide (`now` is whole seconds rounded down, so a token may have up to a second
 * less than `expiresAt - now`: without it, `min_ttl` 60 handed out tokens with 59.x s left, seen in
 * the soak), else the default `min_ttl`, at most half the token's lifetime.
 *
 * @param token - the token, with its lifetime when known
 * @param minTtl - the caller's `min_ttl`, or undefined when it named none
 * @param defaultMinTtl - the configured default (`default_min_ttl`)
 * @returns the seconds it needs
 * @example
 * ```ts
 * neededSeconds({ lifetime: 30 }, undefined, 30); // 15
 * neededSeconds({ lifetime: 30 }, 25, 30); // 26
 * ```
 */
export function neededSeconds(
  token: { readonly lifetime?: number },
  minTtl: number | undefined,
  defaultMinTtl: number
): number {
  return minTtl === undefined ? Math.min(defaultMinTtl, halfLife(token.lifetime)) : minTtl + 1;
}

/**
 * Whether a token must be replaced before it can be handed out.
 *
 * @param token - the token held, if any (with its lifetime when known)
 * @param now - epoch seconds
 * @param minTtl - seconds the caller needs the token to stay valid, or undefined for the default
 * @param margin - replace this many seconds ahead of expiry even when the caller needs less; at most
 *   half the token's lifetime
 * @param defaultMinTtl - the `min_ttl` of a caller that names none; at most half the token's lifetime
 * @returns true when the token is missing or has less left than the caller needs or the margin
 * @example
 * ```ts
 * shouldRefresh({ expiresAt: 1000 }, 980, 30, 30); // true
 * shouldRefresh({ expiresAt: 1000, lifetime: 30 }, 980, undefined, 30, 30); // false: 20 s left, 15 needed
 * ```
 */
export function shouldRefresh(
  token: (Pick<AccessToken, 'expiresAt'> & { readonly lifetime?: number }) | undefined,
  now: number,
  minTtl: number | undefined,
  margin: number,
  defaultMinTtl: number = margin
): boolean {
  if (token === undefined) return true;
  const need = neededSeconds(token, minTtl, defaultMinTtl);
  return token.expiresAt - now < Math.max(need, Math.min(margin, halfLife(token.lifetime)));
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
