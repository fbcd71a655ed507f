/**
 * One OpenID Connect provider, through openid-client. This is the boundary where library and network
 * errors become {@link BrokerError}s, and where every upstream call gets its deadline.
 *
 * openid-client is imported lazily, on the first use of any provider, so the broker starts fast.
 */
import type * as Oidc from 'openid-client';

import type { ProviderConfig } from '../config.js';
import { readPrivateFile } from '../config.js';
import {
  BrokerError,
  InvalidRequest,
  LoginRequired,
  ScopeNotAllowed,
  UpstreamError,
  UpstreamUnavailable
} from '../errors.js';
import type { Logger } from '../log.js';

/** The refresh token was rejected (`invalid_grant`): the grant is over. */
export class GrantRejected extends LoginRequired {
  /** @param provider - provider id */
  constructor(provider: string, options?: { cause?: unknown }) {
    super(provider, 'ended the sign-in (the refresh token was rejected)', options);
  }
}

/** What a token endpoint answered, already checked. Holds secrets: never log it. */
export interface TokenSet {
  readonly accessToken: string;
  readonly tokenType: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  readonly refreshToken: string | null;
  /** Claims of the ID token, when one came with the answer. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
}

/** Seams and limits of upstream calls. */
export interface UpstreamOptions {
  /** Deadline of every call, in milliseconds. */
  readonly timeoutMs: number;
  /** The fetch to use (tests pass a counting or failing one). */
  readonly fetch?: typeof fetch;
  /** Clock in milliseconds. */
  readonly now: () => number;
  readonly log: Logger;
}

/** Checks of a login, as remembered in the login state. Holds secrets: never log it. */
export interface LoginChecks {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

/** Seconds to wait before retrying a failed discovery. */
const DISCOVERY_BACKOFF_S = 5;

let library: Promise<typeof Oidc> | undefined;
/** openid-client, loaded once on first use. */
function openidClient(): Promise<typeof Oidc> {
  library ??= import('openid-client');
  return library;
}

/** Access token lifetime assumed when the IdP does not say. */
const DEFAULT_EXPIRES_IN = 60;

/**
 * A configured OIDC provider. Discovery happens on first use, with a deadline, and is retried after
 * a short backoff when it failed.
 *
 * @example
 * ```ts
 * const demo = new OidcProvider(config.providers[0], { timeoutMs: 10000, now: Date.now, log });
 * const url = await demo.authorizationUrl({ redirectUri, scopes: ['openid'], checks });
 * ```
 */
export class OidcProvider {
  /** The last discovery failure, shown in the provider list. */
  lastError: string | undefined;
  private configuration: Promise<Oidc.Configuration> | undefined;
  private failedAt = 0;

  constructor(
    readonly config: ProviderConfig,
    private readonly options: UpstreamOptions
  ) {}

  /** The provider id. */
  get id(): string {
    return this.config.id;
  }

  /**
   * Starts discovery in the background if it has not happened; used by the provider list so a
   * broken provider shows its `error` soon.
   */
  warmUp(): void {
    if (this.configuration === undefined && this.lastError === undefined) {
      this.discover().catch(() => undefined);
    }
  }

  /**
   * The discovered configuration.
   *
   * @throws {@link UpstreamUnavailable} or {@link UpstreamError} when discovery fails
   */
  async discover(): Promise<Oidc.Configuration> {
    if (this.configuration === undefined) {
      const waited = (this.options.now() - this.failedAt) / 1000;
      if (this.lastError !== undefined && waited < DISCOVERY_BACKOFF_S) {
        throw new UpstreamUnavailable(`Discovery of '${this.id}' failed: ${this.lastError}`, {
          retryAfter: DISCOVERY_BACKOFF_S - waited
        });
      }
      this.configuration = this.runDiscovery();
      this.configuration.then(
        () => {
          this.lastError = undefined;
        },
        (err: BrokerError) => {
          this.configuration = undefined;
          this.failedAt = this.options.now();
          this.lastError = err.message;
          this.options.log.warn('discovery_failed', { provider: this.id, reason: err.message });
        }
      );
    }
    return this.configuration;
  }

  private async runDiscovery(): Promise<Oidc.Configuration> {
    const oc = await openidClient();
    const secret =
      this.config.client_secret_file === null
        ? undefined
        : (await readPrivateFile(this.config.client_secret_file, 'client_secret_file')).trim();
    const issuer = new URL(this.config.issuer);
    try {
      const configuration = await oc.discovery(
        issuer,
        this.config.client_id,
        undefined,
        secret === undefined ? oc.None() : oc.ClientSecretBasic(secret),
        {
          [oc.customFetch]: this.deadlineFetch(),
          timeout: Math.ceil(this.options.timeoutMs / 1000),
          execute: issuer.protocol === 'http:' ? [oc.allowInsecureRequests] : []
        }
      );
      configuration[oc.customFetch] = this.deadlineFetch();
      return configuration;
    } catch (err) {
      throw translate(oc, err, 'discovery');
    }
  }

  /**
   * A fetch with the upstream deadline that turns network failures, timeouts and 5xx answers into
   * {@link UpstreamUnavailable} right where they happen.
   */
  private deadlineFetch(): Oidc.CustomFetch {
    const fetchImpl = this.options.fetch ?? fetch;
    const timeoutMs = this.options.timeoutMs;
    return async (url, init) => {
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
      let response: Response;
      try {
        response = await fetchImpl(url, { ...init, signal } as RequestInit);
      } catch (err) {
        const timedOut = deadline.aborted;
        throw new UpstreamUnavailable(
          timedOut
            ? `The identity provider did not answer within ${timeoutMs} ms.`
            : 'The identity provider is unreachable.',
          { cause: err }
        );
      }
      if (response.status >= 500) {
        const retry = Number(response.headers.get('retry-after'));
        await response.body?.cancel();
        throw new UpstreamUnavailable(`The identity provider answered ${response.status}.`, {
          retryAfter: Number.isFinite(retry) && retry > 0 ? Math.min(retry, 300) : 5
        });
      }
      return response;
    };
  }

  /**
   * Builds the authorization URL of a login: PKCE S256, state and nonce; no secret in it.
   *
   * @param request - redirect URI, scopes and the login's checks
   * @returns the URL to open in the browser
   */
  async authorizationUrl(request: {
    redirectUri: string;
    scopes: readonly string[];
    checks: LoginChecks;
  }): Promise<string> {
    const configuration = await this.discover();
    const oc = await openidClient();
    const challenge = await oc.calculatePKCECodeChallenge(request.checks.verifier);
    return oc.buildAuthorizationUrl(configuration, {
      ...this.config.authorization_params,
      redirect_uri: request.redirectUri,
      scope: request.scopes.join(' '),
      state: request.checks.state,
      nonce: request.checks.nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256'
    }).href;
  }

  /**
   * Completes a login: checks the callback (state, iss, errors) and redeems the code.
   *
   * @param callbackUrl - the redirect URI with the callback's query
   * @param checks - the login's state, nonce and PKCE verifier
   * @param asked - the scopes asked at login (used when the IdP does not echo `scope`)
   * @returns the tokens
   * @throws {@link InvalidRequest} when the IdP refused or the answer does not check out
   */
  async exchangeCode(
    callbackUrl: URL,
    checks: LoginChecks,
    asked: readonly string[]
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    try {
      const tokens = await oc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: checks.verifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true
      });
      return this.toTokenSet(tokens, asked);
    } catch (err) {
      throw translate(oc, err, 'code', this.id);
    }
  }

  /**
   * Uses a refresh token.
   *
   * @param refreshToken - the current refresh token
   * @param scopes - narrower scopes to ask for, or undefined for the grant's own
   * @param granted - the grant's scopes (used when the IdP does not echo `scope`)
   * @returns the new tokens; `refreshToken` is the rotated one, or the old one when not rotated
   * @throws {@link GrantRejected} on `invalid_grant`
   */
  async refresh(
    refreshToken: string,
    scopes: readonly string[] | undefined,
    granted: readonly string[]
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    try {
      const tokens = await oc.refreshTokenGrant(
        configuration,
        refreshToken,
        scopes === undefined ? undefined : { scope: scopes.join(' ') }
      );
      const set = this.toTokenSet(tokens, scopes ?? granted);
      return set.refreshToken === null ? { ...set, refreshToken } : set;
    } catch (err) {
      throw translate(oc, err, 'refresh', this.id);
    }
  }

  private toTokenSet(
    tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers,
    asked: readonly string[]
  ): TokenSet {
    const expiresIn = tokens.expiresIn() ?? DEFAULT_EXPIRES_IN;
    return {
      accessToken: tokens.access_token,
      tokenType: 'Bearer',
      expiresAt: Math.floor(this.options.now() / 1000) + expiresIn,
      scopes: typeof tokens.scope === 'string' ? tokens.scope.split(' ').filter(Boolean) : asked,
      refreshToken: tokens.refresh_token ?? null,
      claims: tokens.claims()
    };
  }
}

/**
 * Translates what openid-client threw into a {@link BrokerError}, once. The IdP's own
 * `error_description` is not passed on: it is not ours to vouch for.
 */
function translate(
  oc: typeof Oidc,
  err: unknown,
  operation: 'discovery' | 'code' | 'refresh',
  provider = ''
): BrokerError {
  if (err instanceof BrokerError) return err;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof BrokerError) return cause;
  if (err instanceof oc.ResponseBodyError) {
    if (err.error === 'invalid_grant') {
      return operation === 'refresh'
        ? new GrantRejected(provider, { cause: err })
        : new InvalidRequest('The authorization code was rejected; start the sign-in again.', {
            cause: err
          });
    }
    if (err.error === 'invalid_scope') {
      return new ScopeNotAllowed('The identity provider refused the scopes asked.');
    }
    return new UpstreamError(`The identity provider answered '${err.error}'.`, { cause: err });
  }
  if (err instanceof oc.AuthorizationResponseError) {
    return new InvalidRequest(`The identity provider refused the sign-in ('${err.error}').`, {
      cause: err
    });
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'OAUTH_TIMEOUT' || code === 'OAUTH_ABORT') {
    return new UpstreamUnavailable('The identity provider did not answer in time.', { cause: err });
  }
  // A callback whose iss, state, nonce or ID token does not check out is a failed sign-in, not an
  // upstream fault: it may be a forged or mixed-up response.
  if (operation === 'code' && typeof code === 'string' && code.startsWith('OAUTH_')) {
    return new InvalidRequest('The sign-in response did not pass validation.', { cause: err });
  }
  return new UpstreamError(`The identity provider's ${operation} answer was not usable.`, {
    cause: err
  });
}
