/**
 * The browser sign-in (authorization code with PKCE S256, state and nonce): started by
 * `POST …/login`, completed by the callback. The device flow is `grants/deviceFlow.ts`.
 *
 * Invariants:
 * - a sign-in is one audit event, written when it completes or fails (naming the client that
 *   started it), so the trail never shows two "login ok" for one sign-in; its start is only logged;
 * - `login.completed` is recorded before the grant is stored: a trail that cannot be written (503)
 *   leaves the user signed out, never signed in without a record;
 * - a login's state is single-use and bound to the user who started it (`loginState.ts`);
 * - a sign-in that replaces a grant has the old one revoked at the IdP once the new one is stored
 *   (`revocation.ts` `replaced`: best effort, recorded, never failing the sign-in).
 */
import { InvalidRequest, toErrorBody } from './errors.js';
import { type BrokerEvents, stopwatch } from './events.js';
import type { Logger } from './log.js';
import type { LoginStates } from './loginState.js';
import type { OidcProvider } from './providers/oidc.js';
import type { ProviderRegistry } from './providers/registry.js';
import type { Revocations } from './revocation.js';
import type { TokenService } from './tokens/service.js';

/** User names: anything without control characters (JupyterHub allows e-mail-like and non-ASCII names). */
const USER = /^[^\p{Cc}]{1,256}$/u;

/**
 * The user a login is bound to: the trusted `X-Broker-User` the server extension sends.
 *
 * @param raw - the header's value
 * @returns the user name
 * @throws {@link InvalidRequest} when it is missing or not a user name
 * @example
 * ```ts
 * signInUser('alice@example.org'); // 'alice@example.org'
 * ```
 */
export function signInUser(raw: string | undefined): string {
  if (raw === undefined || !USER.test(raw)) {
    throw new InvalidRequest('X-Broker-User is missing or not valid.');
  }
  return raw;
}

/** What a browser sign-in starts with; the URLs and the server name are already checked. */
export interface SignInRequest {
  readonly user: string;
  /** The client label of the caller, named by the sign-in's audit event. */
  readonly client: string;
  readonly scopes: readonly string[];
  readonly redirectUri: string;
  /** The JupyterHub server name the state names, if any. */
  readonly serverName?: string;
  /** The authorization endpoint as the browser reaches it, when not the discovered one. */
  readonly browserEndpoint?: string;
}

/** What the callback brings back. */
export interface SignInCallback {
  /** The raw `X-Broker-User`. */
  readonly user: string | undefined;
  /** The raw `state` query parameter. */
  readonly state: unknown;
  /** The callback's query string, with its `?` (`code`, `state`, `iss`), or ''. */
  readonly query: string;
}

/** How a callback ended: signed in, or the error to answer (already recorded). */
export type SignInResult =
  | { readonly ok: true; readonly provider: string }
  | { readonly ok: false; readonly provider: string | null; readonly error: unknown };

/** What {@link BrowserSignIns} needs. */
export interface BrowserSignInsOptions {
  readonly logins: LoginStates;
  readonly providers: ProviderRegistry;
  readonly tokens: TokenService;
  readonly events: BrokerEvents;
  readonly log: Logger;
  /** Revokes the grant a sign-in replaced. */
  readonly revocations: Pick<Revocations, 'replaced'>;
}

/**
 * Browser sign-ins.
 *
 * @example
 * ```ts
 * const { authorization_url } = await signIns.start(provider, { user: 'alice', client: 'jupyterlab', scopes, redirectUri });
 * // … the IdP redirects the browser to the callback:
 * const result = await signIns.complete({ user: 'alice', state, query: '?code=…&state=…' });
 * ```
 */
export class BrowserSignIns {
  constructor(private readonly options: BrowserSignInsOptions) {}

  /**
   * Starts a sign-in: a fresh login state and the authorization URL to open.
   *
   * @param provider - the provider
   * @param request - the user, client, scopes and redirect URI
   * @returns the URL and when the login expires (epoch seconds)
   * @throws `AuditUnavailable` when the sign-in could not be recorded (nothing is started)
   * @throws {@link InvalidRequest} when the provider has no browser sign-in
   */
  async start(
    provider: OidcProvider,
    request: SignInRequest
  ): Promise<{ authorization_url: string; expires_at: number }> {
    await this.options.events.assertRecordable();
    const pending = this.options.logins.start({
      provider: provider.id,
      user: request.user,
      redirectUri: request.redirectUri,
      scopes: [...new Set(request.scopes)],
      client: request.client,
      ...(request.serverName === undefined ? {} : { serverName: request.serverName })
    });
    const url = await provider.authorizationUrl({
      redirectUri: pending.redirectUri,
      scopes: pending.scopes,
      checks: pending,
      ...(request.browserEndpoint === undefined ? {} : { browserEndpoint: request.browserEndpoint })
    });
    // Logged, not an event: the sign-in is one event, when the callback completes or fails it.
    this.options.log.info('login_started', {
      provider: provider.id,
      client: request.client,
      method: 'browser',
      scopes: pending.scopes
    });
    return { authorization_url: url, expires_at: pending.expiresAt };
  }

  /**
   * Completes a sign-in from its callback: redeems the code, records the sign-in, stores the grant.
   * Every outcome is a `login.completed` or `login.failed` event.
   *
   * @param callback - the user, state and query of the callback
   * @returns the provider signed in to, or the error to answer
   */
  async complete(callback: SignInCallback): Promise<SignInResult> {
    const { logins, providers, tokens, events } = this.options;
    let provider: string | null = null;
    let client = 'jupyterlab';
    let upstreamSeconds: number | null = null;
    try {
      const pending = logins.take(callback.state, signInUser(callback.user));
      provider = pending.provider;
      client = pending.client;
      const signIn = providers.lookupSignIn(pending.provider);
      await events.assertRecordable();
      // The exact redirect URI of the login, with the query the IdP sent (code, state, iss).
      const callbackUrl = new URL(pending.redirectUri);
      callbackUrl.search = callback.query;
      const elapsed = stopwatch();
      const tokenSet = await signIn
        .exchangeCode(callbackUrl, pending, pending.scopes)
        .finally(() => (upstreamSeconds = elapsed()));
      const { account, subject } = await signIn.identify(tokenSet);
      await events.emit({
        kind: 'login.completed',
        provider: signIn.id,
        client,
        method: 'browser',
        scopes: tokenSet.scopes,
        refreshable: tokenSet.refreshToken !== null,
        upstreamSeconds
      });
      upstreamSeconds = null; // timed once, with the completed sign-in
      const replaced = await tokens.signedIn(signIn.id, tokenSet, account, subject);
      // The sign-in stands: revoking the grant it replaced is best effort and never fails it.
      await this.options.revocations.replaced(signIn, replaced, tokenSet, client);
      return { ok: true, provider: signIn.id };
    } catch (err) {
      const answer = toErrorBody(err);
      await events.emit({
        kind: 'login.failed',
        provider,
        client,
        method: 'browser',
        code: answer.body.error,
        status: answer.status,
        description:
          answer.status >= 500 && err instanceof Error
            ? err.message
            : answer.body.error_description,
        upstreamSeconds
      });
      return { ok: false, provider, error: err };
    }
  }
}
