/**
 * The `client_credentials` grant: a service account's tokens. No sign-in: a token is fetched on
 * demand, per scope set and audience, and cached.
 */
import { type AccessToken, accessTokenOf, scopeKey } from '../accessToken.js';
import { stopwatch } from '../events.js';
import { requireAllowedAudience } from '../leastPrivilege.js';
import type { Provider } from '../providers/registry.js';
import {
  type GrantHandler,
  type GrantRequest,
  type GrantServices,
  type GrantStatus,
  oidcProvider,
  reportFailed,
  reportFetched
} from './grantHandler.js';

/**
 * Tokens of service accounts.
 *
 * @example
 * ```ts
 * const serviceAccounts = new ClientCredentialsGrant(services);
 * ```
 */
export class ClientCredentialsGrant implements GrantHandler {
  readonly upstream = 'client_credentials' as const;
  readonly issuer = 'identity provider' as const;
  readonly asksMinTtl = false;

  constructor(private readonly services: GrantServices) {}

  /** @throws {@link ScopeNotAllowed} for an audience the provider does not allow */
  keyOf(provider: Provider, request: GrantRequest): string {
    const { config } = oidcProvider(provider);
    requireAllowedAudience(provider.id, config.audiences, request.audience);
    return request.scopes === undefined && request.audience === undefined
      ? scopeKey(undefined)
      : `${scopeKey(request.scopes ?? config.scopes)}|aud=${request.audience ?? ''}`;
  }

  async fetch(provider: Provider, key: string, request: GrantRequest): Promise<AccessToken> {
    const oidc = oidcProvider(provider);
    const scopes = request.scopes ?? oidc.config.scopes;
    const report = { provider: oidc.id, grant: this.upstream, scopes: request.scopes ?? null };
    const elapsed = stopwatch();
    let token: AccessToken;
    try {
      token = accessTokenOf(await oidc.clientCredentials(scopes, request.audience));
    } catch (err) {
      reportFailed(this.services.events, { ...report, error: err, seconds: elapsed() });
      throw err;
    }
    reportFetched(this.services.events, { ...report, token, seconds: elapsed() });
    this.services.cache.set(oidc.id, key, token);
    return token;
  }

  /**
   * A service account is always ready: no sign-in.
   *
   * @param provider - the provider
   * @returns the status, with the cached default token's expiry
   */
  async status(provider: Provider): Promise<GrantStatus> {
    const { config } = oidcProvider(provider);
    const token = this.services.cache.get(provider.id, scopeKey(undefined));
    const live = token !== undefined && token.expiresAt > this.services.now();
    return {
      signedIn: true,
      account: config.client_id,
      scopes: config.scopes,
      expiresAt: live ? token.expiresAt : null,
      needsLogin: false
    };
  }
}
