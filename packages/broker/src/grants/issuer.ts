/**
 * Access tokens by grant type: the one entry the token route and the provider list use.
 *
 * - `authorization_code`: the user's sign-in, refreshed by {@link Tokens};
 * - `client_credentials`: a service account; no sign-in, a token fetched on demand and cached;
 * - `token_exchange` (RFC 8693): the subject provider's access token exchanged for a narrowed one,
 *   cached per subject sign-in, so a sign-out or a new sign-in of the subject never serves an old one;
 * - `hub`: the user's JupyterHub login, whose token the hub hands out (`hub.ts`).
 *
 * Whatever the grant, a caller never gets a token wider than asked and allowed (scopes checked by the
 * route, audiences here, granted scopes in the provider), and never one with less than `min_ttl` left.
 */
import { type Clock, epochSeconds } from '../clock.js';
import { BrokerError, InvalidRequest, LoginRequired, StoreUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { HubProvider } from '../providers/hub.js';
import type { OidcProvider, TokenSet } from '../providers/oidc.js';
import type { Provider, ProviderRegistry } from '../providers/registry.js';
import { type GrantStatus, shouldRefresh, type Tokens } from '../refresh.js';
import type { TokenStore } from '../stores/tokenStore.js';
import { type CachedToken, scopeKey, type TokenCache } from '../tokenCache.js';
import type { HubTokens } from './hub.js';
import { requireAllowedAudience } from './leastPrivilege.js';

/** What a caller asks for. */
export interface TokenRequest {
  /** Scopes (already checked against the provider's allowed set), or undefined for the default. */
  readonly scopes: readonly string[] | undefined;
  /** Seconds the token must stay valid. */
  readonly minTtl: number;
  /** Audience, or undefined. */
  readonly audience: string | undefined;
}

/** What {@link TokenIssuer} needs. */
export interface TokenIssuerOptions {
  readonly tokens: Tokens;
  /** Tokens of `hub` providers. */
  readonly hub: HubTokens;
  readonly providers: ProviderRegistry;
  readonly store: TokenStore;
  /** The same cache {@link Tokens} uses, so a sign-out forgets derived tokens too. */
  readonly cache: TokenCache;
  readonly clock: Clock;
  readonly log: Logger;
  /** Seconds ahead of expiry to fetch a new token. */
  readonly marginSeconds: number;
}

/**
 * Hands out access tokens of every provider, whatever its grant.
 *
 * @example
 * ```ts
 * const token = await issuer.get(providers.lookup('svc'), { scopes: ['read'], minTtl: 60, audience: undefined });
 * ```
 */
export class TokenIssuer {
  private readonly flights = new Map<string, Promise<CachedToken>>();

  constructor(private readonly options: TokenIssuerOptions) {}

  /**
   * An access token with at least `request.minTtl` seconds left.
   *
   * @param provider - the provider
   * @param request - scopes, min_ttl and audience
   * @returns the token
   * @throws {@link InvalidRequest} for an audience the grant cannot narrow to
   * @throws {@link ScopeNotAllowed} for an audience the provider does not allow
   * @throws {@link LoginRequired} when the (subject) provider is not signed in
   */
  async get(provider: Provider, request: TokenRequest): Promise<CachedToken> {
    if (provider instanceof HubProvider) {
      if (request.audience !== undefined) {
        throw new InvalidRequest(
          `Provider '${provider.id}' is the JupyterHub login; its token has no audience to choose.`
        );
      }
      return this.options.hub.get(provider, request.scopes, request.minTtl);
    }
    const { config } = provider;
    if (config.grant === 'authorization_code') {
      if (request.audience !== undefined) {
        throw new InvalidRequest(
          `Provider '${provider.id}' signs users in; ask an audience of a token exchange or client credentials provider.`
        );
      }
      return this.options.tokens.get(provider, request.scopes, request.minTtl);
    }
    requireAllowedAudience(provider.id, config.audiences, request.audience);
    if (config.grant === 'client_credentials') {
      const scopes = request.scopes ?? config.scopes;
      const key =
        request.scopes === undefined && request.audience === undefined
          ? scopeKey(undefined)
          : `${scopeKey(scopes)}|aud=${request.audience ?? ''}`;
      return this.derived(provider, key, request.minTtl, () =>
        provider.clientCredentials(scopes, request.audience)
      );
    }
    return this.exchanged(provider, request);
  }

  private async exchanged(provider: OidcProvider, request: TokenRequest): Promise<CachedToken> {
    const exchange = provider.config.token_exchange!;
    const subject = this.options.providers.lookup(exchange.subject_provider);
    // Refused by the config check already; kept for the type.
    if (subject instanceof HubProvider) throw new LoginRequired(subject.id);
    const grant = await this.readGrant(subject.id);
    if (grant === undefined) throw new LoginRequired(subject.id);
    const scopes = request.scopes ?? exchange.scopes ?? provider.config.scopes;
    const audience = request.audience ?? exchange.audience ?? undefined;
    // Bound to the subject's sign-in: another sign-in (or account) never gets this token.
    const key = `${scopeKey(scopes)}|aud=${audience ?? ''}|sub=${grant.subject ?? ''}@${grant.createdAt}`;
    return this.derived(provider, key, request.minTtl, async () => {
      const subjectToken = await this.options.tokens.get(subject, undefined, request.minTtl);
      return provider.exchangeToken(subjectToken.accessToken, scopes, audience);
    });
  }

  /** Serves a cached token or fetches one, one fetch at a time per provider and key. */
  private async derived(
    provider: OidcProvider,
    key: string,
    minTtl: number,
    fetchToken: () => Promise<TokenSet>
  ): Promise<CachedToken> {
    const { cache, marginSeconds } = this.options;
    const now = epochSeconds(this.options.clock);
    const cached = cache.get(provider.id, key);
    if (!shouldRefresh(cached, now, minTtl, marginSeconds)) return cached as CachedToken;
    const id = `${provider.id} ${key}`;
    let flight = this.flights.get(id);
    if (flight === undefined) {
      flight = (async () => {
        const tokens = await fetchToken();
        const token: CachedToken = {
          accessToken: tokens.accessToken,
          tokenType: tokens.tokenType,
          expiresAt: tokens.expiresAt,
          scopes: tokens.scopes,
          lifetime: tokens.lifetime
        };
        cache.set(provider.id, key, token);
        this.options.log.info('token_fetched', {
          provider: provider.id,
          grant: provider.config.grant,
          scopes: token.scopes,
          expires_at: token.expiresAt
        });
        return token;
      })().finally(() => this.flights.delete(id));
      this.flights.set(id, flight);
    }
    const token = await flight;
    // Counted from when the caller asked (see Tokens.get): deterministic for a lifetime of minTtl.
    const left = Math.min(token.expiresAt - now, token.lifetime);
    if (left < minTtl) {
      throw new InvalidRequest(
        `min_ttl ${minTtl} is longer than the identity provider's token lifetime (${left} s).`
      );
    }
    return token;
  }

  /**
   * What the provider list shows: a service account is always ready; a token exchange provider is
   * as signed in as its subject provider.
   *
   * @param provider - the provider
   * @returns the status, without token material
   */
  async status(provider: Provider): Promise<GrantStatus> {
    if (provider instanceof HubProvider) return this.options.hub.status(provider);
    const { config } = provider;
    if (config.grant === 'authorization_code') return this.options.tokens.status(provider.id);
    const token = this.options.cache.get(provider.id, scopeKey(undefined));
    const live = token !== undefined && token.expiresAt > epochSeconds(this.options.clock);
    if (config.grant === 'client_credentials') {
      return {
        signedIn: true,
        account: config.client_id,
        scopes: config.scopes,
        expiresAt: live ? token.expiresAt : null,
        needsLogin: false
      };
    }
    const subject = await this.options.tokens.status(config.token_exchange!.subject_provider);
    return {
      ...subject,
      scopes: config.token_exchange!.scopes ?? config.scopes,
      expiresAt: null
    };
  }

  private async readGrant(provider: string) {
    try {
      return await this.options.store.get(provider);
    } catch (err) {
      throw err instanceof BrokerError ? err : new StoreUnavailable({ cause: err });
    }
  }
}
