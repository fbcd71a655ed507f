/**
 * The token service: access tokens of every provider, whatever its grant. What is the same for every
 * grant is here; what is a grant's own is its handler in the grant table (`grants/index.ts`).
 *
 * Invariants:
 * - a token handed out has at least `min_ttl` seconds left, counted from when the caller asked and
 *   never more than the lifetime its issuer gave it; an explicit `min_ttl` the token cannot meet is
 *   refused, a caller that names none gets `default_min_ttl`, at most half the token's lifetime;
 * - a token is replaced `refresh_margin_seconds` ahead of expiry, at most half its lifetime ahead,
 *   so short-lived tokens (10 s, 30 s) are not refreshed (and rotated) on every request;
 * - a caller never gets a token wider than asked and allowed (`leastPrivilege.ts`: scopes checked
 *   by the route, audiences and granted scopes by the handlers, what the IdP granted by the provider);
 * - concurrent callers share one upstream call per provider and request key (single-flight);
 * - an upstream outage keeps serving a cached token that is still good for the caller;
 * - every upstream token call is reported (`token.fetched` / `token.fetch_failed`, timed).
 */
import { type AccessToken, neededSeconds, secondsLeft, shouldRefresh } from '../accessToken.js';
import { type Clock, epochSeconds } from '../clock.js';
import { InvalidRequest, UpstreamUnavailable } from '../errors.js';
import type { BrokerEvents } from '../events.js';
import type {
  GrantRequest,
  GrantServices,
  GrantStatus,
  TokenRequest
} from '../grants/grantHandler.js';
import { grantTable, type GrantTable } from '../grants/index.js';
import { RefreshTokenGrant } from '../grants/refreshToken.js';
import type { TokenSet } from '../providers/oidc.js';
import type { Provider, ProviderRegistry } from '../providers/registry.js';
import type { Grant, TokenStore } from '../stores/tokenStore.js';
import type { TokenCache } from '../tokenCache.js';
import { SingleFlight } from './singleFlight.js';

export type { GrantStatus, TokenRequest } from '../grants/grantHandler.js';

/** A token handed out, and whether it came from the cache (no upstream call). */
export interface IssuedToken {
  readonly token: AccessToken;
  readonly cached: boolean;
}

/** What {@link TokenService} needs. */
export interface TokenServiceOptions {
  readonly providers: ProviderRegistry;
  readonly store: TokenStore;
  readonly cache: TokenCache;
  /** Where upstream token calls are reported. */
  readonly events: BrokerEvents;
  readonly clock: Clock;
  /** Seconds ahead of expiry to get a new token (at most half a token's lifetime). */
  readonly marginSeconds: number;
  /** `min_ttl` of a caller that names none (at most half a token's lifetime). */
  readonly defaultMinTtl: number;
}

/**
 * Hands out access tokens of every provider, and keeps the sign-ins' grants.
 *
 * @example
 * ```ts
 * const tokens = new TokenService({ providers, store, cache, events, clock, marginSeconds: 30, defaultMinTtl: 30 });
 * const { token } = await tokens.get(providers.lookup('demo'), { scopes: undefined, minTtl: 60, audience: undefined });
 * ```
 */
export class TokenService {
  private readonly flights = new SingleFlight<AccessToken>();
  private readonly signIns: RefreshTokenGrant;
  private readonly grants: GrantTable;

  constructor(private readonly options: TokenServiceOptions) {
    const { store, cache, providers, events, marginSeconds, defaultMinTtl } = options;
    const services: GrantServices = {
      store,
      cache,
      providers,
      events,
      marginSeconds,
      defaultMinTtl,
      now: () => this.now(),
      token: async (provider, request) => (await this.get(provider, request)).token
    };
    this.signIns = new RefreshTokenGrant(services);
    this.grants = grantTable(services, this.signIns);
  }

  private now(): number {
    return epochSeconds(this.options.clock);
  }

  /**
   * An access token with at least `request.minTtl` seconds left (when named; else the default,
   * at most half the token's lifetime).
   *
   * @param provider - the provider
   * @param request - scopes (already checked against the provider's allowed set), min_ttl, audience
   * @param rejected - an access token its resource server just refused (an egress call's 401): it
   *   is not answered again; the cache's token when it is another one, else a new one from upstream
   *   (one upstream call for every caller, as always). The issuer may still answer the same token
   *   (a hub hands out the login's token until it is near its end): the caller sees it is the same
   * @returns the token, and whether it came from the cache
   * @throws {@link LoginRequired} when there is no usable grant (or subject grant)
   * @throws {@link ScopeNotAllowed} for scopes the grant lacks, or an audience not allowed
   * @throws {@link InvalidRequest} for an audience the grant cannot narrow to, or when even a new
   *   token cannot live `minTtl` seconds
   * @throws {@link UpstreamUnavailable} during an outage with no cached token good enough
   */
  async get(provider: Provider, request: TokenRequest, rejected?: string): Promise<IssuedToken> {
    // min_ttl counts from when the caller asked: a token the IdP mints while the caller waits is
    // good for `minTtl` when its lifetime is, whichever second boundary the exchange crossed.
    // Built field by field: a spread with an added field took most of a cache hit's time in V8.
    const { scopes, minTtl, audience } = request;
    const ask: GrantRequest = { scopes, minTtl, audience, asked: this.now(), rejected };
    const grant = this.grants[provider.config.grant];
    // Not awaited when the key is known at once: the upstream call then starts in this very call,
    // and the provider list, asking a hub provider's status and its problem together, sees it running.
    const keyed = grant.keyOf(provider, ask);
    const key = typeof keyed === 'string' ? keyed : await keyed;
    const { cache, marginSeconds, defaultMinTtl } = this.options;
    const found = cache.get(provider.id, key);
    // A token its resource server refused is as good as none: a new one is got past it.
    const cached = rejected !== undefined && found?.accessToken === rejected ? undefined : found;
    if (!shouldRefresh(cached, this.now(), ask.minTtl, marginSeconds, defaultMinTtl)) {
      grant.accept?.(provider, cached as AccessToken, ask);
      return { token: cached as AccessToken, cached: true };
    }
    let token: AccessToken;
    try {
      token = await this.flights.run(
        `${provider.id} ${key}`,
        () => grant.fetch(provider, key, ask),
        grant.asksMinTtl
          ? shared =>
              shared.expiresAt - this.now() >= neededSeconds(shared, ask.minTtl, defaultMinTtl)
          : undefined
      );
    } catch (err) {
      // Inside the refresh margin but still good for this caller: an outage costs nothing yet.
      if (
        err instanceof UpstreamUnavailable &&
        cached !== undefined &&
        cached.expiresAt - this.now() >= neededSeconds(cached, ask.minTtl, defaultMinTtl)
      ) {
        grant.accept?.(provider, cached, ask);
        return { token: cached, cached: true };
      }
      throw err;
    }
    grant.accept?.(provider, token, ask);
    // An explicit min_ttl is a promise: refused when even a new token cannot keep it. The default
    // is at most half the new token's lifetime: a new token is the best there is for it.
    const left = secondsLeft(token, ask.asked);
    if (ask.minTtl !== undefined && left < ask.minTtl) {
      throw new InvalidRequest(
        `min_ttl ${ask.minTtl} is longer than the ${grant.issuer}'s token lifetime (${left} s); ` +
          'ask for less, or name no min_ttl to get the default (at most half the lifetime).'
      );
    }
    return { token, cached: false };
  }

  /**
   * What the provider list shows.
   *
   * @param provider - the provider
   * @returns the status, without token material
   */
  status(provider: Provider): Promise<GrantStatus> {
    return this.grants[provider.config.grant].status(provider);
  }

  /**
   * Records a completed sign-in: stores the grant and caches its access token.
   *
   * @param provider - provider id
   * @param tokens - the code exchange's tokens
   * @param account - account label
   * @param subject - `sub` claim
   * @returns the grant the sign-in replaced, or undefined (its refresh token is live upstream)
   */
  signedIn(
    provider: string,
    tokens: TokenSet,
    account: string | null,
    subject: string | null
  ): Promise<Grant | undefined> {
    return this.signIns.signedIn(provider, tokens, account, subject);
  }

  /**
   * Waits for the refreshes under way to store their result (or fail), for a broker that stops: a
   * refresh whose caller was already answered at the deadline may still bring a rotated refresh token.
   *
   * @returns once none is under way
   */
  settled(): Promise<void> {
    return this.signIns.settled();
  }

  /**
   * Whether an upstream token call is under way: one that callers wait for (any grant), or a
   * refresh whose callers were already answered at the deadline. Reads only.
   *
   * @returns false when stopping the broker now would cut no IdP or hub call short
   * @example
   * ```ts
   * if (!tokens.inFlight()) console.log('no token call under way');
   * ```
   */
  inFlight(): boolean {
    return this.flights.size > 0 || this.signIns.underWayCount() > 0;
  }

  /**
   * Forgets a provider's sign-in and every cached token; nothing happens when there is none.
   *
   * @param provider - provider id
   */
  async signOut(provider: string): Promise<void> {
    await this.takeGrant(provider);
  }

  /**
   * Takes a provider's sign-in out under the grant's store lock (after any refresh in flight has
   * stored its rotation) and forgets it with every cached token; see `RefreshTokenGrant.takeGrant`.
   *
   * @param provider - provider id
   * @param release - called under the lock before the grant is forgotten; false keeps it
   * @returns the grant as it was (its refresh token live upstream), or undefined when none
   */
  async takeGrant(
    provider: string,
    release?: (grant: Grant) => Promise<boolean>
  ): Promise<Grant | undefined> {
    let kept = false;
    const taken = await this.signIns.takeGrant(
      provider,
      release === undefined
        ? undefined
        : async grant => {
            const released = await release(grant);
            kept = !released;
            return released;
          }
    );
    if (!kept) for (const grant of Object.values(this.grants)) grant.forget?.(provider);
    return taken;
  }
}
