/**
 * The `token_exchange` grant (RFC 8693): the subject provider's access token exchanged for a
 * narrowed one. Cached per subject sign-in, so a sign-out or a new sign-in of the subject never
 * serves an old one.
 */
import { type AccessToken, accessTokenOf, scopeKey } from '../accessToken.js';
import { LoginRequired } from '../errors.js';
import { stopwatch } from '../events.js';
import { requireAllowedAudience } from '../leastPrivilege.js';
import type { OidcProvider } from '../providers/oidc.js';
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
 * Exchanged tokens.
 *
 * @example
 * ```ts
 * const exchanges = new TokenExchangeGrant(services);
 * ```
 */
export class TokenExchangeGrant implements GrantHandler {
  readonly upstream = 'token_exchange' as const;
  readonly issuer = 'identity provider' as const;
  readonly asksMinTtl = false;

  /**
   * @param services - what the token service lends
   * @param signIns - the sign-ins whose tokens are exchanged (a subject is signed in or not)
   */
  constructor(
    private readonly services: GrantServices,
    private readonly signIns: Pick<GrantHandler, 'status'>
  ) {}

  /**
   * @throws {@link ScopeNotAllowed} for an audience the provider does not allow
   * @throws {@link LoginRequired} when the subject provider is not signed in
   */
  async keyOf(provider: Provider, request: GrantRequest): Promise<string> {
    const oidc = oidcProvider(provider);
    requireAllowedAudience(oidc.id, oidc.config.audiences, request.audience);
    const subject = this.subjectOf(oidc);
    const grant = await this.services.store.get(subject.id);
    if (grant === undefined) throw new LoginRequired(subject.id);
    const { scopes, audience } = exchanged(oidc, request);
    // Bound to the subject's sign-in: another sign-in (or account) never gets this token.
    return `${scopeKey(scopes)}|aud=${audience ?? ''}|sub=${grant.subject ?? ''}@${grant.createdAt}`;
  }

  async fetch(provider: Provider, key: string, request: GrantRequest): Promise<AccessToken> {
    const oidc = oidcProvider(provider);
    const { scopes, audience } = exchanged(oidc, request);
    const subjectToken = await this.services.token(this.subjectOf(oidc), {
      scopes: undefined,
      minTtl: request.minTtl,
      audience: undefined
    });
    const report = { provider: oidc.id, grant: this.upstream, scopes: request.scopes ?? null };
    const elapsed = stopwatch();
    let token: AccessToken;
    try {
      token = accessTokenOf(await oidc.exchangeToken(subjectToken.accessToken, scopes, audience));
    } catch (err) {
      reportFailed(this.services.events, { ...report, error: err, seconds: elapsed() });
      throw err;
    }
    reportFetched(this.services.events, { ...report, token, seconds: elapsed() });
    this.services.cache.set(oidc.id, key, token);
    return token;
  }

  /**
   * A token exchange provider is as signed in as its subject provider's sign-in.
   *
   * @param provider - the provider
   * @returns the subject's status with this provider's scopes
   */
  async status(provider: Provider): Promise<GrantStatus> {
    const oidc = oidcProvider(provider);
    const subject = await this.signIns.status(this.subjectOf(oidc));
    return {
      ...subject,
      scopes: oidc.config.token_exchange!.scopes ?? oidc.config.scopes,
      expiresAt: null
    };
  }

  /** The subject provider (the config check refuses a hub subject). */
  private subjectOf(provider: OidcProvider): OidcProvider {
    return oidcProvider(
      this.services.providers.lookup(provider.config.token_exchange!.subject_provider)
    );
  }
}

/** What is asked of the exchange: the caller's scopes and audience, else the configured ones. */
function exchanged(
  provider: OidcProvider,
  request: GrantRequest
): { scopes: readonly string[]; audience: string | undefined } {
  const exchange = provider.config.token_exchange!;
  return {
    scopes: request.scopes ?? exchange.scopes ?? provider.config.scopes,
    audience: request.audience ?? exchange.audience ?? undefined
  };
}
