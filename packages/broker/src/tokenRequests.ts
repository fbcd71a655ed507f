/**
 * A caller's request for an access token: the provider must hand out tokens (`expose_token`), the
 * scopes must be ones the provider allows, a plugin needs the user's consent, and the token service
 * does the rest. Every answer is an event:
 * `token.issued`, or `token.denied` (401/403) / `token.failed`.
 *
 * Invariant: no token leaves the broker unrecorded. The trail is checked before the token service
 * is asked, and `token.issued` is recorded before the token is handed out (a failed write answers
 * 503 instead); a refusal or failure hands nothing out and is recorded as well as the trail allows.
 */
import type { Consents } from './consents.js';
import { TokenNotExposed, toErrorBody } from './errors.js';
import type { BrokerEvents } from './events.js';
import { requireAllowed } from './leastPrivilege.js';
import type { Provider } from './providers/registry.js';
import type { IssuedToken, TokenRequest, TokenService } from './tokens/service.js';

/** What {@link TokenRequests} needs. */
export interface TokenRequestsOptions {
  readonly tokens: TokenService;
  readonly consents: Consents;
  readonly events: BrokerEvents;
}

/**
 * Token requests of callers (kernels, JupyterLab, plugins).
 *
 * @example
 * ```ts
 * const { token } = await requests.issue(provider, 'kernel', { scopes: undefined, minTtl: 60, audience: undefined });
 * ```
 */
export class TokenRequests {
  constructor(private readonly options: TokenRequestsOptions) {}

  /**
   * An access token for a caller.
   *
   * @param provider - the provider
   * @param client - the caller's client label
   * @param request - scopes (parsed, not yet checked), min_ttl and audience
   * @returns the token, and whether it came from the cache
   * @throws {@link TokenNotExposed} for a provider with `expose_token: false`
   * @throws {@link ScopeNotAllowed} for scopes the provider does not allow
   * @throws {@link ConsentRequired} / {@link ConsentDenied} for a plugin without the user's consent
   * @throws `AuditUnavailable` when the issue cannot be recorded
   * @throws whatever the token service throws (`login_required`, `upstream_unavailable`, …)
   */
  async issue(provider: Provider, client: string, request: TokenRequest): Promise<IssuedToken> {
    const { tokens, consents, events } = this.options;
    let issued: IssuedToken;
    try {
      if (!provider.config.expose_token) throw new TokenNotExposed(provider.id);
      if (request.scopes !== undefined) requireAllowed(provider.config, request.scopes);
      await consents.require(client, provider.id);
      await events.assertRecordable();
      issued = await tokens.get(provider, request);
    } catch (err) {
      const { status, body } = toErrorBody(err);
      const refusal = {
        provider: provider.id,
        client,
        scopes: request.scopes ?? null,
        code: body.error
      };
      await events.emit(
        status === 401 || status === 403
          ? { kind: 'token.denied', ...refusal }
          : { kind: 'token.failed', ...refusal }
      );
      throw err;
    }
    await events.emit({
      kind: 'token.issued',
      provider: provider.id,
      client,
      scopes: issued.token.scopes,
      expiresAt: issued.token.expiresAt,
      cached: issued.cached
    });
    return issued;
  }
}
