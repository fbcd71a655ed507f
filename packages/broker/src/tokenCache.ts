/**
 * Access tokens the broker already holds, in memory only, keyed by provider and scope set. Never
 * persisted: a restart only costs one refresh per provider.
 */
import { type AccessToken, accessTokenOf } from './accessToken.js';

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
  private readonly byProvider = new Map<string, Map<string, AccessToken>>();

  /**
   * @param provider - provider id
   * @param key - the request's key (`accessToken.scopeKey`, plus what else the grant binds it to)
   * @returns the cached token, if any (possibly expired: callers decide with `shouldRefresh`)
   */
  get(provider: string, key: string): AccessToken | undefined {
    return this.byProvider.get(provider)?.get(key);
  }

  /** Stores the access token alone (never what came with it) under provider and key. */
  set(provider: string, key: string, token: AccessToken): void {
    let tokens = this.byProvider.get(provider);
    if (tokens === undefined) {
      tokens = new Map();
      this.byProvider.set(provider, tokens);
    }
    tokens.set(key, Object.freeze(accessTokenOf(token)));
  }

  /** Forgets every token of a provider (sign-out, ended grant). */
  forget(provider: string): void {
    this.byProvider.delete(provider);
  }
}
