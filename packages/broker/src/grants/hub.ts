/**
 * The `hub` grant: access tokens of the user's JupyterHub login, asked from the hub.
 *
 * Invariants (as for the other grants):
 * - a token handed out has at least `min_ttl` seconds left, counted from when the caller asked;
 * - one token per provider is cached; concurrent callers share one hub request (single-flight);
 * - the hub's token cannot be narrowed: a caller asking scopes gets it only when the token holds all
 *   of them (else 403 `scope_not_allowed`, with no hub call when the cached token already says so);
 * - a hub that is down (503 with `Retry-After`) is not asked again before that time; still-good
 *   cached tokens keep being served meanwhile;
 * - a hub that says the login ended (401) drops the cached token; the next request asks again, since
 *   a new hub login brings tokens back without restarting anything.
 */
import { type Clock, epochSeconds } from '../clock.js';
import { BrokerError, InvalidRequest, ScopeNotAllowed, UpstreamUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { HubLoginEnded, type HubProvider } from '../providers/hub.js';
import { type GrantStatus, shouldRefresh, type TokensObserver } from '../refresh.js';
import { type CachedToken, scopeKey, type TokenCache } from '../tokenCache.js';

/** What {@link HubTokens} needs. */
export interface HubTokensOptions {
  readonly cache: TokenCache;
  readonly clock: Clock;
  readonly log: Logger;
  /** Audit and metrics hooks, the same as for refreshes of other providers. */
  readonly observer?: TokensObserver;
  /** Seconds ahead of expiry to ask for a new token. */
  readonly marginSeconds: number;
}

/** The one cache key of a hub provider: its token is the same whatever the caller asks. */
const KEY = scopeKey(undefined);

/**
 * Tokens of `hub` providers.
 *
 * @example
 * ```ts
 * const hubTokens = new HubTokens({ cache, clock: Date.now, log, marginSeconds: 30 });
 * const token = await hubTokens.get(hub, undefined, 60);
 * ```
 */
export class HubTokens {
  private readonly flights = new Map<string, Promise<CachedToken>>();
  private readonly backoff = new Map<string, number>();
  /** Providers whose hub said the login has ended, until a token comes again. */
  private readonly ended = new Set<string>();
  /** Providers asked at least once (the provider list asks once to show expiry and scopes). */
  private readonly asked = new Set<string>();
  /** Providers whose hub refused a `min_ttl` of the refresh margin: their tokens live shorter. */
  private readonly shortLived = new Set<string>();

  constructor(private readonly options: HubTokensOptions) {}

  private now(): number {
    return epochSeconds(this.options.clock);
  }

  /**
   * An access token of the hub login with at least `minTtl` seconds left.
   *
   * @param provider - a `hub` provider
   * @param scopes - scopes the caller needs, or undefined
   * @param minTtl - seconds the token must stay valid
   * @returns the token (its `scopes` are all the token carries)
   * @throws {@link ScopeNotAllowed} when the hub login's token lacks a scope asked
   * @throws {@link HubLoginEnded} when the hub login has ended
   * @throws {@link InvalidRequest} when the hub cannot give a token living `minTtl` seconds
   * @throws {@link UpstreamUnavailable} while the hub cannot give tokens
   */
  async get(
    provider: HubProvider,
    scopes: readonly string[] | undefined,
    minTtl: number
  ): Promise<CachedToken> {
    const asked = this.now();
    const { cache, marginSeconds, observer } = this.options;
    const cached = cache.get(provider.id, KEY);
    if (!shouldRefresh(cached, asked, minTtl, marginSeconds)) {
      requireScopes(provider.id, cached as CachedToken, scopes);
      observer?.cacheHit(provider.id);
      return cached as CachedToken;
    }
    let token: CachedToken;
    try {
      token = await this.fetchShared(provider, minTtl);
    } catch (err) {
      // Inside the margin but still good for this caller: the hub being down costs nothing yet.
      if (
        err instanceof UpstreamUnavailable &&
        cached !== undefined &&
        cached.expiresAt - this.now() >= minTtl
      ) {
        requireScopes(provider.id, cached, scopes);
        observer?.cacheHit(provider.id);
        return cached;
      }
      throw err;
    }
    requireScopes(provider.id, token, scopes);
    // The hub checked min_ttl against its own clock: count from when the caller asked.
    const left = token.expiresAt - asked;
    if (left < minTtl) {
      throw new InvalidRequest(
        `min_ttl ${minTtl} is longer than the hub login's token lifetime (${left} s).`
      );
    }
    return token;
  }

  /**
   * Joins the hub request already running for this provider when its token will do, or starts one.
   * A caller needing more than the running request asked for starts its own once that one ends;
   * a failure of the shared request is every joiner's failure (one hub call, one answer).
   */
  private async fetchShared(provider: HubProvider, minTtl: number): Promise<CachedToken> {
    const running = this.flights.get(provider.id);
    if (running !== undefined) {
      const token = await running;
      if (token.expiresAt - this.now() >= minTtl) return token;
    }
    let flight = this.flights.get(provider.id);
    if (flight === undefined) {
      flight = this.fetch(provider, minTtl).finally(() => {
        if (this.flights.get(provider.id) === flight) this.flights.delete(provider.id);
      });
      this.flights.set(provider.id, flight);
    }
    return flight;
  }

  private async fetch(provider: HubProvider, minTtl: number): Promise<CachedToken> {
    const { cache, log, marginSeconds } = this.options;
    const until = this.backoff.get(provider.id);
    if (until !== undefined && until > this.now()) {
      // Repeat why the hub refused (the last answer's words) and when to retry, not just "wait".
      const retryAfter = until - this.now();
      const why = provider.lastError?.message.replace(/ Try again in \d+ s\.$/, '');
      throw new UpstreamUnavailable(
        `${why ?? `JupyterHub asked to wait before '${provider.id}' is asked again.`} Try again in ${retryAfter} s.`,
        { retryAfter }
      );
    }
    this.asked.add(provider.id);
    // Ask for the margin too, so the cached token outlives it; a hub whose tokens live shorter than
    // the margin is asked again for what the caller needs, and from then on only for that.
    const ask = this.shortLived.has(provider.id) ? minTtl : Math.max(minTtl, marginSeconds);
    let tokens;
    try {
      tokens = await this.observed(provider, () => provider.fetchToken(ask));
    } catch (err) {
      if (err instanceof InvalidRequest && ask > minTtl) {
        this.shortLived.add(provider.id);
        tokens = await this.observed(provider, () => provider.fetchToken(minTtl));
      } else {
        this.noteFailure(provider, err);
        throw err;
      }
    }
    this.backoff.delete(provider.id);
    this.ended.delete(provider.id);
    const token: CachedToken = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresAt: tokens.expiresAt,
      scopes: tokens.scopes,
      lifetime: tokens.lifetime
    };
    cache.set(provider.id, KEY, token);
    log.info('token_fetched', {
      provider: provider.id,
      grant: 'hub',
      scopes: token.scopes,
      expires_at: token.expiresAt
    });
    return token;
  }

  /** The hub request, timed and counted as a refresh (metrics and audit trail). */
  private async observed<T extends { scopes: readonly string[] }>(
    provider: HubProvider,
    call: () => Promise<T>
  ): Promise<T> {
    const { observer } = this.options;
    if (observer === undefined) return call();
    try {
      const tokens = await observer.timeRefresh(provider.id, call);
      observer.refreshed(provider.id, tokens.scopes, null);
      return tokens;
    } catch (err) {
      observer.refreshed(
        provider.id,
        undefined,
        err instanceof BrokerError ? err.code : 'server_error'
      );
      throw err;
    }
  }

  private noteFailure(provider: HubProvider, err: unknown): void {
    if (err instanceof HubLoginEnded) {
      this.ended.add(provider.id);
      this.options.cache.forget(provider.id);
      this.options.log.info('grant_ended', { provider: provider.id, reason: 'hub_login_ended' });
    } else if (err instanceof UpstreamUnavailable) {
      this.backoff.set(provider.id, this.now() + Math.ceil(err.retryAfter ?? 5));
    }
  }

  /**
   * What the provider list shows: signed in through the hub (no sign-in of its own), the hub user,
   * and the cached token's expiry and scopes. The first listing asks the hub once, so these show
   * at once; later ones only report.
   *
   * @param provider - a `hub` provider
   * @returns the status, without token material
   */
  async status(provider: HubProvider): Promise<GrantStatus> {
    if (!this.asked.has(provider.id)) {
      await this.get(provider, undefined, 0).catch(() => undefined);
    }
    const token = this.options.cache.get(provider.id, KEY);
    const live = token !== undefined && token.expiresAt > this.now() ? token : undefined;
    return {
      signedIn: true,
      account: provider.account,
      scopes: token?.scopes ?? null,
      expiresAt: live?.expiresAt ?? null,
      needsLogin: this.ended.has(provider.id)
    };
  }
}

/** Refuses a caller's scopes that the hub login's token does not carry. */
function requireScopes(
  provider: string,
  token: CachedToken,
  scopes: readonly string[] | undefined
): void {
  if (scopes === undefined) return;
  const missing = scopes.filter(s => !token.scopes.includes(s));
  if (missing.length > 0) {
    throw new ScopeNotAllowed(
      `The JupyterHub login's token for '${provider}' does not carry ${missing.map(s => `'${s}'`).join(', ')}.`
    );
  }
}
