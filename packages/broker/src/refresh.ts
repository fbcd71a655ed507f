/**
 * Handing out access tokens: serve from the cache while a token has enough life left, otherwise
 * refresh, one refresh at a time per grant.
 *
 * Invariants:
 * - a token handed out has at least `min_ttl` seconds left;
 * - concurrent callers share one refresh (single-flight per grant and scope set), and refreshes of
 *   one grant never overlap, because each may rotate the refresh token;
 * - a rotated refresh token is stored before anyone gets the new access token;
 * - `invalid_grant` re-reads the store once (a rotation may have won elsewhere), then ends the grant;
 * - an upstream outage keeps the grant, serves still-good cached tokens and backs off.
 */
import { type Clock, epochSeconds } from './clock.js';
import {
  BrokerError,
  InvalidRequest,
  LoginRequired,
  ScopeNotAllowed,
  StoreUnavailable,
  UpstreamUnavailable
} from './errors.js';
import type { Logger } from './log.js';
import { GrantRejected, type OidcProvider, type TokenSet } from './providers/oidc.js';
import type { Grant, SharedToken, TokenStore } from './stores/tokenStore.js';
import { type CachedToken, scopeKey, TokenCache } from './tokenCache.js';

/**
 * Whether a cached token must be refreshed before it can be handed out.
 *
 * @param token - the cached token, if any
 * @param now - epoch seconds
 * @param minTtl - seconds the caller needs the token to stay valid
 * @param margin - refresh this many seconds ahead of expiry even when the caller needs less
 * @returns true when the token is missing or has less than `max(minTtl, margin)` seconds left
 * @example
 * ```ts
 * shouldRefresh({ expiresAt: 1000 } as CachedToken, 980, 30, 30); // true
 * ```
 */
export function shouldRefresh(
  token: Pick<CachedToken, 'expiresAt'> | undefined,
  now: number,
  minTtl: number,
  margin: number
): boolean {
  return token === undefined || token.expiresAt - now < Math.max(minTtl, margin);
}

/**
 * Seconds to wait after `failures` consecutive upstream failures.
 *
 * @param failures - consecutive failures, at least 1
 * @returns 2, 4, 8, … capped at 60
 */
export function backoffSeconds(failures: number): number {
  return Math.min(60, 2 ** Math.max(1, failures));
}

/** What the provider list shows of one provider. */
export interface GrantStatus {
  readonly signedIn: boolean;
  readonly account: string | null;
  readonly scopes: readonly string[] | null;
  /** Epoch seconds of the cached default token, or null. */
  readonly expiresAt: number | null;
  readonly needsLogin: boolean;
}

/**
 * Hooks for the audit trail and the metrics. They only observe: they must not throw, and
 * `timeRefresh` must return what `call` returns.
 */
export interface TokensObserver {
  /** A token was served from the cache without an upstream call. */
  cacheHit(provider: string): void;
  /** A refresh token grant ended: `ok`, or `error` with the error code. */
  refreshed(provider: string, scopes: readonly string[] | undefined, code: string | null): void;
  /** Wraps the upstream refresh call (to time it). */
  timeRefresh<T>(provider: string, call: () => Promise<T>): Promise<T>;
}

/** What {@link Tokens} needs. */
export interface TokensOptions {
  /** Audit and metrics hooks. */
  readonly observer?: TokensObserver;
  readonly store: TokenStore;
  readonly cache: TokenCache;
  readonly clock: Clock;
  readonly log: Logger;
  /** Seconds ahead of expiry to refresh. */
  readonly marginSeconds: number;
}

/**
 * Access tokens of every provider: cache, refresh, sign-in and sign-out bookkeeping.
 *
 * @example
 * ```ts
 * const tokens = new Tokens({ store, cache, clock: Date.now, log, marginSeconds: 30 });
 * const token = await tokens.get(provider, undefined, 60);
 * ```
 */
export class Tokens {
  private readonly flights = new Map<string, Promise<CachedToken>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Bumped by sign-in and sign-out so an older refresh can never write its grant back. */
  private readonly generations = new Map<string, number>();
  private readonly backoff = new Map<string, { until: number; failures: number }>();

  constructor(private readonly options: TokensOptions) {}

  private now(): number {
    return epochSeconds(this.options.clock);
  }

  /**
   * An access token with at least `minTtl` seconds left.
   *
   * @param provider - the provider
   * @param scopes - scopes asked (already checked against the provider's allowed set), or undefined
   * @param minTtl - seconds the token must stay valid
   * @returns the token
   * @throws {@link LoginRequired} when there is no usable grant
   * @throws {@link ScopeNotAllowed} when the sign-in did not grant the scopes
   * @throws {@link InvalidRequest} when even a fresh token cannot live `minTtl` seconds
   * @throws {@link UpstreamUnavailable} during an outage
   */
  async get(
    provider: OidcProvider,
    scopes: readonly string[] | undefined,
    minTtl: number
  ): Promise<CachedToken> {
    // min_ttl counts from when the caller asked: a token the IdP mints while the caller waits is
    // good for `minTtl` when its lifetime is, whichever second boundary the exchange crossed.
    const asked = this.now();
    const grant = await this.readGrant(provider.id);
    if (grant === undefined) throw new LoginRequired(provider.id);
    if (scopes !== undefined) {
      const missing = scopes.filter(s => !grant.scopes.includes(s));
      if (missing.length > 0) {
        throw new ScopeNotAllowed(
          `The sign-in to '${provider.id}' did not grant ${missing.join(', ')}; sign in again asking for them.`
        );
      }
    }
    const key = scopeKey(scopes);
    const cached = this.options.cache.get(provider.id, key);
    if (!shouldRefresh(cached, this.now(), minTtl, this.options.marginSeconds)) {
      this.options.observer?.cacheHit(provider.id);
      return cached as CachedToken;
    }
    if (cached !== undefined && cached.expiresAt - this.now() >= minTtl) {
      // Inside the refresh margin but still good enough for this caller: refresh, and fall back
      // to the cached token if the IdP is down.
      try {
        return await this.refreshShared(provider, key, scopes, minTtl);
      } catch (err) {
        if (!(err instanceof UpstreamUnavailable)) throw err;
        this.options.observer?.cacheHit(provider.id);
        return cached;
      }
    }
    const token = await this.refreshShared(provider, key, scopes, minTtl);
    const left = Math.min(token.expiresAt - asked, token.lifetime);
    if (left < minTtl) {
      throw new InvalidRequest(
        `min_ttl ${minTtl} is longer than the identity provider's token lifetime (${left} s).`
      );
    }
    return token;
  }

  /** Joins the refresh already running for this grant and scope set, or starts one. */
  private refreshShared(
    provider: OidcProvider,
    key: string,
    scopes: readonly string[] | undefined,
    minTtl: number
  ): Promise<CachedToken> {
    const id = `${provider.id} ${key}`;
    let flight = this.flights.get(id);
    if (flight === undefined) {
      flight = this.withGrantLock(provider.id, () =>
        this.withStoreLock(provider.id, () => this.refresh(provider, key, scopes, minTtl))
      ).finally(() => this.flights.delete(id));
      this.flights.set(id, flight);
    }
    return flight;
  }

  /** Runs `task` after every earlier task of the same grant has settled. */
  private withGrantLock<T>(provider: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(provider) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(provider, settled);
    void settled.then(() => {
      if (this.locks.get(provider) === settled) this.locks.delete(provider);
    });
    return run;
  }

  /**
   * Runs `task` holding the store's lock of the grant, which other broker processes sharing a
   * durable store also take: their refreshes of this grant never overlap with ours.
   */
  private async withStoreLock<T>(provider: string, task: () => Promise<T>): Promise<T> {
    let locked = false;
    try {
      return await this.options.store.withLock(provider, () => {
        locked = true;
        return task();
      });
    } catch (err) {
      if (locked || err instanceof BrokerError) throw err;
      throw new StoreUnavailable({ cause: err });
    }
  }

  private async refresh(
    provider: OidcProvider,
    key: string,
    scopes: readonly string[] | undefined,
    minTtl: number
  ): Promise<CachedToken> {
    const { cache, log, marginSeconds } = this.options;
    // A refresh that finished while this one waited for the lock may already have done the work.
    const cached = cache.get(provider.id, key);
    if (!shouldRefresh(cached, this.now(), minTtl, marginSeconds)) return cached as CachedToken;

    const backoff = this.backoff.get(provider.id);
    if (backoff !== undefined && backoff.until > this.now()) {
      throw new UpstreamUnavailable(`'${provider.id}' is backing off after upstream failures.`, {
        retryAfter: backoff.until - this.now()
      });
    }

    const generation = this.generations.get(provider.id) ?? 0;
    let grant = await this.readGrant(provider.id);
    if (grant === undefined) throw new LoginRequired(provider.id);
    // Another broker sharing the store may have refreshed (and rotated) this grant while we waited
    // for its lock: use the token it stored instead of a second upstream call.
    const shared = grant.lastToken;
    const now = this.now();
    if (
      shared != null &&
      shared.scopeKey === key &&
      !shouldRefresh(shared, now, minTtl, marginSeconds)
    ) {
      const token: CachedToken = {
        accessToken: shared.accessToken,
        tokenType: shared.tokenType,
        expiresAt: shared.expiresAt,
        scopes: shared.scopes,
        lifetime: shared.expiresAt - now
      };
      cache.set(provider.id, key, token);
      return token;
    }
    let tokens: TokenSet;
    for (let attempt = 0; ; attempt++) {
      if (grant.refreshToken === null) {
        throw new LoginRequired(
          provider.id,
          'issued no refresh token and the access token expired'
        );
      }
      try {
        tokens = await this.observedRefresh(provider, grant.refreshToken, scopes, grant.scopes);
        break;
      } catch (err) {
        if (err instanceof UpstreamUnavailable) this.noteFailure(provider.id, err);
        if (!(err instanceof GrantRejected)) throw err;
        // A rotation may have been stored by someone else since we read the grant.
        const again = await this.readGrant(provider.id);
        if (
          attempt === 0 &&
          again?.refreshToken != null &&
          again.refreshToken !== grant.refreshToken
        ) {
          grant = again;
          continue;
        }
        if (again?.refreshToken === grant.refreshToken) await this.endGrant(provider.id);
        log.info('grant_ended', { provider: provider.id, reason: 'invalid_grant' });
        throw err;
      }
    }
    this.backoff.delete(provider.id);
    if ((this.generations.get(provider.id) ?? 0) !== generation) {
      throw new LoginRequired(provider.id, 'was signed out during the refresh');
    }
    const token: CachedToken = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      scopes: tokens.scopes,
      lifetime: tokens.lifetime
    };
    await this.writeGrant({
      ...grant,
      refreshToken: tokens.refreshToken,
      updatedAt: tokens.refreshToken !== grant.refreshToken ? this.now() : grant.updatedAt,
      lastToken: shareable(key, token)
    });
    cache.set(provider.id, key, token);
    log.info('token_refreshed', {
      provider: provider.id,
      scopes: token.scopes,
      expires_at: token.expiresAt,
      rotated: tokens.refreshToken !== grant.refreshToken
    });
    return token;
  }

  /** The upstream refresh, reported to the observer (timing and outcome). */
  private async observedRefresh(
    provider: OidcProvider,
    refreshToken: string,
    scopes: readonly string[] | undefined,
    granted: readonly string[]
  ): Promise<TokenSet> {
    const observer = this.options.observer;
    if (observer === undefined) return provider.refresh(refreshToken, scopes, granted);
    try {
      const tokens = await observer.timeRefresh(provider.id, () =>
        provider.refresh(refreshToken, scopes, granted)
      );
      observer.refreshed(provider.id, tokens.scopes, null);
      return tokens;
    } catch (err) {
      observer.refreshed(
        provider.id,
        scopes,
        err instanceof BrokerError ? err.code : 'server_error'
      );
      throw err;
    }
  }

  private noteFailure(provider: string, err: UpstreamUnavailable): void {
    const failures = (this.backoff.get(provider)?.failures ?? 0) + 1;
    const wait = Math.max(backoffSeconds(failures), err.retryAfter ?? 0);
    this.backoff.set(provider, { until: this.now() + wait, failures });
    this.options.log.warn('upstream_unavailable', {
      provider,
      reason: err.message,
      retry_after: wait
    });
  }

  /**
   * Records a completed sign-in: stores the grant and caches its access token.
   *
   * @param provider - provider id
   * @param tokens - the code exchange's tokens
   * @param account - account label
   * @param subject - `sub` claim
   */
  async signedIn(
    provider: string,
    tokens: TokenSet,
    account: string | null,
    subject: string | null
  ): Promise<void> {
    this.bump(provider);
    this.backoff.delete(provider);
    this.options.cache.forget(provider);
    const now = this.now();
    const token: CachedToken = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      scopes: tokens.scopes,
      lifetime: tokens.lifetime
    };
    // Under the grant's lock: a refresh of the old grant in another broker cannot overwrite it.
    await this.withStoreLock(provider, () =>
      this.writeGrant({
        provider,
        refreshToken: tokens.refreshToken,
        scopes: tokens.scopes,
        account,
        subject,
        createdAt: now,
        updatedAt: now,
        lastToken: shareable(scopeKey(undefined), token)
      })
    );
    this.options.cache.set(provider, scopeKey(undefined), token);
  }

  /**
   * Forgets a provider's grant and every cached token; nothing happens when there is none.
   *
   * @param provider - provider id
   */
  async signOut(provider: string): Promise<void> {
    // Forget locally at once (a refresh running here can no longer store its result), then delete
    // under the grant's lock, so a refresh in another broker sharing the store cannot write the
    // grant back after the sign-out.
    this.bump(provider);
    this.options.cache.forget(provider);
    await this.withStoreLock(provider, () => this.endGrant(provider));
    this.backoff.delete(provider);
  }

  /**
   * What the provider list shows.
   *
   * @param provider - provider id
   * @returns sign-in state without token material
   */
  async status(provider: string): Promise<GrantStatus> {
    const grant = await this.readGrant(provider);
    const token = this.options.cache.get(provider, scopeKey(undefined));
    const live = token !== undefined && token.expiresAt > this.now() ? token : undefined;
    if (grant === undefined) {
      return { signedIn: false, account: null, scopes: null, expiresAt: null, needsLogin: true };
    }
    return {
      signedIn: true,
      account: grant.account,
      scopes: grant.scopes,
      expiresAt: live?.expiresAt ?? null,
      needsLogin: grant.refreshToken === null && live === undefined
    };
  }

  private bump(provider: string): void {
    this.generations.set(provider, (this.generations.get(provider) ?? 0) + 1);
  }

  private async endGrant(provider: string): Promise<void> {
    this.bump(provider);
    this.options.cache.forget(provider);
    try {
      await this.options.store.delete(provider);
    } catch (err) {
      throw new StoreUnavailable({ cause: err });
    }
  }

  private async readGrant(provider: string): Promise<Grant | undefined> {
    try {
      return await this.options.store.get(provider);
    } catch (err) {
      throw err instanceof BrokerError ? err : new StoreUnavailable({ cause: err });
    }
  }

  private async writeGrant(grant: Grant): Promise<void> {
    try {
      await this.options.store.put(grant);
    } catch (err) {
      throw new StoreUnavailable({ cause: err });
    }
  }
}

/** What other brokers on the store see of a token: its lifetime is this broker's own reading. */
function shareable(key: string, token: CachedToken): SharedToken {
  const { accessToken, tokenType, expiresAt, scopes } = token;
  return { scopeKey: key, accessToken, tokenType, expiresAt, scopes };
}
