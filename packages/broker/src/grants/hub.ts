/**
 * The `hub` grant: access tokens of the user's JupyterHub login, asked from the hub.
 *
 * Invariants (besides the service's, as for every grant):
 * - one token per provider is cached, whatever the caller asks;
 * - the hub's token cannot be narrowed: a caller asking scopes gets it only when the token holds all
 *   of them (else 403 `scope_not_allowed`, with no hub call when the cached token already says so);
 * - the hub is asked for `min_ttl` (and the refresh margin) and refreshes ahead for it, so a caller
 *   needing more than a running request asked for asks again once that one ends;
 * - a hub that is down (503 with `Retry-After`) is not asked again before that time;
 * - a hub that says the login ended (401) drops the cached token; the next request asks again, since
 *   a new hub login brings tokens back without restarting anything.
 */
import { type AccessToken, accessTokenOf, scopeKey } from '../accessToken.js';
import { InvalidRequest, UpstreamUnavailable } from '../errors.js';
import { stopwatch } from '../events.js';
import { requireGranted } from '../leastPrivilege.js';
import { HubLoginEnded, type HubProvider } from '../providers/hub.js';
import type { TokenSet } from '../providers/oidc.js';
import type { Provider } from '../providers/registry.js';
import {
  type GrantHandler,
  type GrantRequest,
  type GrantServices,
  type GrantStatus,
  hubProvider,
  reportFailed,
  reportFetched
} from './grantHandler.js';

/** The one cache key of a hub provider: its token is the same whatever the caller asks. */
const KEY = scopeKey(undefined);

/**
 * Tokens of `hub` providers.
 *
 * @example
 * ```ts
 * const hub = new HubGrant(services);
 * const status = await hub.status(provider);
 * ```
 */
export class HubGrant implements GrantHandler {
  readonly upstream = 'hub' as const;
  readonly issuer = 'hub login' as const;
  readonly asksMinTtl = true;
  /** Epoch seconds before which a provider's hub is not asked again. */
  private readonly backoff = new Map<string, number>();
  /** Providers whose hub said the login has ended, until a token comes again. */
  private readonly ended = new Set<string>();
  /** Providers asked at least once (the provider list asks once to show expiry and scopes). */
  private readonly asked = new Set<string>();
  /** Providers whose hub refused a `min_ttl` of the refresh margin: their tokens live shorter. */
  private readonly shortLived = new Set<string>();

  constructor(private readonly services: GrantServices) {}

  /** @throws {@link InvalidRequest} for an audience: the hub's token has none to choose */
  keyOf(provider: Provider, request: GrantRequest): string {
    if (request.audience !== undefined) {
      throw new InvalidRequest(
        `Provider '${provider.id}' is the JupyterHub login; its token has no audience to choose.`
      );
    }
    return KEY;
  }

  /** @throws {@link ScopeNotAllowed} when the hub login's token lacks a scope asked */
  accept(provider: Provider, token: AccessToken, request: GrantRequest): void {
    requireGranted(provider.id, request.scopes, { token: token.scopes });
  }

  async fetch(provider: Provider, _key: string, request: GrantRequest): Promise<AccessToken> {
    const hub = hubProvider(provider);
    const { cache, marginSeconds, defaultMinTtl } = this.services;
    // A caller that names no min_ttl: the hub is asked for the configured default, as before.
    const minTtl = request.minTtl ?? defaultMinTtl;
    const until = this.backoff.get(hub.id);
    const now = this.services.now();
    if (until !== undefined && until > now) {
      // Repeat why the hub refused (the last answer's words) and when to retry, not just "wait".
      const retryAfter = until - now;
      const why = hub.lastError?.message.replace(/ Try again in \d+ s\.$/, '');
      throw new UpstreamUnavailable(
        `${why ?? `JupyterHub asked to wait before '${hub.id}' is asked again.`} Try again in ${retryAfter} s.`,
        { retryAfter, repeat: true }
      );
    }
    this.asked.add(hub.id);
    // Ask for the margin too, so the cached token outlives it; a hub whose tokens live shorter than
    // the margin is asked again for what the caller needs, and from then on only for that.
    const ask = this.shortLived.has(hub.id) ? minTtl : Math.max(minTtl, marginSeconds);
    let tokens: TokenSet;
    try {
      tokens = await this.ask(hub, ask);
    } catch (err) {
      if (!(err instanceof InvalidRequest && ask > minTtl)) throw err;
      this.shortLived.add(hub.id);
      tokens = await this.ask(hub, minTtl);
    }
    this.backoff.delete(hub.id);
    this.ended.delete(hub.id);
    // The hub gives an absolute expiry, checked against min_ttl on its own clock: the token's life
    // counts from when the caller asked, not from a second boundary the answer crossed on its way.
    const token: AccessToken = {
      ...accessTokenOf(tokens),
      lifetime: tokens.expiresAt - request.asked
    };
    cache.set(hub.id, KEY, token);
    return token;
  }

  /** One request to the hub, reported (timed) and remembered when it failed. */
  private async ask(hub: HubProvider, minTtl: number): Promise<TokenSet> {
    const { events } = this.services;
    const elapsed = stopwatch();
    const report = { provider: hub.id, grant: this.upstream, scopes: null };
    let tokens: TokenSet;
    try {
      tokens = await hub.fetchToken(minTtl);
    } catch (err) {
      reportFailed(events, {
        ...report,
        error: err,
        seconds: elapsed(),
        ...this.noteFailure(hub, err)
      });
      throw err;
    }
    reportFetched(events, { ...report, token: tokens, seconds: elapsed() });
    return tokens;
  }

  /** Ends the cached login or starts the hub's backoff; says which, for the report. */
  private noteFailure(
    hub: HubProvider,
    err: unknown
  ): { grantEnded?: 'hub_login_ended'; retryAfter?: number } {
    if (err instanceof HubLoginEnded) {
      this.ended.add(hub.id);
      this.services.cache.forget(hub.id);
      return { grantEnded: 'hub_login_ended' };
    }
    if (err instanceof UpstreamUnavailable) {
      const retryAfter = Math.ceil(err.retryAfter ?? 5);
      this.backoff.set(hub.id, this.services.now() + retryAfter);
      return { retryAfter };
    }
    return {};
  }

  /** After an admin's revocation (the hub ended the login too): the next listing asks the hub. */
  forget(provider: string): void {
    this.asked.delete(provider);
    this.backoff.delete(provider);
  }

  /**
   * What the provider list shows: signed in through the hub (no sign-in of its own), the hub user,
   * and the cached token's expiry and scopes. The first listing asks the hub once, so these show
   * at once; later ones only report.
   *
   * @param provider - a `hub` provider
   * @returns the status, without token material
   */
  async status(provider: Provider): Promise<GrantStatus> {
    const hub = hubProvider(provider);
    if (!this.asked.has(hub.id)) {
      await this.services
        .token(hub, { scopes: undefined, minTtl: 0, audience: undefined })
        .catch(() => undefined);
    }
    const token = this.services.cache.get(hub.id, KEY);
    const live = token !== undefined && token.expiresAt > this.services.now() ? token : undefined;
    return {
      signedIn: true,
      account: hub.account,
      scopes: token?.scopes ?? null,
      expiresAt: live?.expiresAt ?? null,
      needsLogin: this.ended.has(hub.id)
    };
  }
}
