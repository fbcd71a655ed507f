/**
 * One OAuth 2.0 / OpenID Connect provider of any kind, through openid-client: discovery or explicit
 * endpoints, the grants (authorization code, refresh, client credentials, token exchange, device
 * code) and who signed in. This is the boundary where library and network errors become
 * {@link BrokerError}s (see `translate.ts`), and where every upstream call gets its deadline.
 *
 * openid-client is imported lazily, on the first use of any provider, so the broker starts fast.
 */
import type * as Oidc from 'openid-client';

import type { AccessToken } from '../accessToken.js';
import type { ProviderConfig } from './providerConfig.js';
import {
  BrokerError,
  type ErrorCode,
  InvalidRequest,
  UpstreamError,
  UpstreamUnavailable
} from '../errors.js';
import { requireNotWider } from '../leastPrivilege.js';
import { issuerProblem } from './callbackIssuer.js';
import { clientSecretProblem, readClientSecret } from './clientSecret.js';
import { accountLabel, fetchUserInfo } from './identity.js';
import { translate } from './translate.js';
import { deadlineFetch, type UpstreamOptions } from './upstream.js';

export { GrantRejected } from './translate.js';
export type { UpstreamOptions } from './upstream.js';

/**
 * What a token endpoint answered, already checked: the access token (its `lifetime` is the answer's
 * `expires_in`) and what came with it. Holds secrets: never log it.
 */
export interface TokenSet extends AccessToken {
  readonly refreshToken: string | null;
  /** Claims of the ID token, when one came with the answer and could be checked. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
}

/** Checks of a login, as remembered in the login state. Holds secrets: never log it. */
export interface LoginChecks {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

/** Who signed in. */
export interface Identity {
  readonly account: string | null;
  readonly subject: string | null;
}

/** A started device authorization (RFC 8628). `deviceCode` is a secret: never log it. */
export interface DeviceAuthorization {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete: string | undefined;
  /** Seconds the codes live. */
  readonly expiresIn: number;
  /** Seconds between polls. */
  readonly interval: number;
}

/** One poll of the device code grant: tokens, or keep waiting (`slow_down`: wait longer). */
export type DevicePoll = TokenSet | 'authorization_pending' | 'slow_down';

/** Why a provider cannot be used now, as the provider list shows it. */
export interface ProviderProblem {
  /** `config_error` (an admin must fix the config), `upstream_unavailable` or `upstream_error`. */
  readonly code: ErrorCode;
  /** What is wrong, naming the provider and the file or URL; never secret. */
  readonly description: string;
}

/** Seconds to wait before retrying a failed discovery. */
const DISCOVERY_BACKOFF_S = 5;
/** Access token lifetime assumed when the IdP does not say. */
const DEFAULT_EXPIRES_IN = 60;
/** RFC 8628's default polling interval. */
const DEFAULT_INTERVAL_S = 5;

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

let library: Promise<typeof Oidc> | undefined;
/** openid-client, loaded once on first use. */
function openidClient(): Promise<typeof Oidc> {
  library ??= import('openid-client');
  return library;
}

/**
 * A configured provider. Discovery (or, for explicit endpoints, building the configuration and
 * reading the client secret) happens on first use, with a deadline, and is retried after a short
 * backoff when it failed.
 *
 * @example
 * ```ts
 * const demo = new OidcProvider(config.providers[0], { timeoutMs: 10000, now: Date.now, log });
 * const url = await demo.authorizationUrl({ redirectUri, scopes: ['openid'], checks });
 * ```
 */
export class OidcProvider {
  /** The last discovery failure (network or IdP), shown in the provider list until one succeeds. */
  lastError: BrokerError | undefined;
  private configuration: Promise<Oidc.Configuration> | undefined;
  /** Where refresh tokens are revoked, once found ({@link revocationConfiguration}). */
  private revocation: Promise<Oidc.Configuration | null> | undefined;
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
   * `upstream_timeout_ms`: how long a caller waits for this provider. A refresh request itself may
   * go on longer (`upstream.ts`, `refreshLimitMs`).
   */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Whether sign-ins are OpenID Connect: discovered, asking `openid`, so an ID token is due. */
  get expectsIdToken(): boolean {
    return this.config.endpoints === null && this.config.scopes.includes('openid');
  }

  /**
   * The scopes a login asks: the provider's set, or the caller's subset (plus `openid` for OpenID
   * Connect providers, which need it for the ID token).
   *
   * @param asked - the caller's scopes (already checked against the allowed set), or undefined
   * @returns the scopes to ask
   */
  loginScopes(asked: readonly string[] | undefined): string[] {
    if (asked === undefined) return [...this.config.scopes];
    return [...new Set(this.expectsIdToken ? ['openid', ...asked] : asked)];
  }

  /**
   * What keeps this provider from working now: a problem with its secret file (checked afresh on
   * every call, so a fixed file clears it), else the last discovery failure.
   *
   * @returns the problem, or undefined
   */
  async problem(): Promise<ProviderProblem | undefined> {
    const file = this.config.client_secret_file;
    const local = file === null ? undefined : await clientSecretProblem(this.id, file);
    if (local !== undefined) return { code: 'config_error', description: local };
    const failed = this.lastError;
    return failed === undefined ? undefined : { code: failed.code, description: failed.message };
  }

  /**
   * Starts discovery in the background if it has not happened (or failed more than the backoff
   * ago); used by the provider list so a broken provider shows its `error` soon, and a mended one
   * loses it.
   *
   * @param waitMs - how long to wait for it (a refused connection fails within it; a silent IdP
   *   is reported by a later list)
   * @returns once discovery settled or `waitMs` passed
   */
  async warmUp(waitMs = 0): Promise<void> {
    if (this.configuration !== undefined) return;
    if (this.lastError !== undefined) {
      // Tried again once the backoff is over, so the list notices an IdP that came back; without
      // waiting: the list already has this failure to show.
      if ((this.options.now() - this.failedAt) / 1000 < DISCOVERY_BACKOFF_S) return;
      waitMs = 0;
    }
    const settled = this.discover().then(
      () => undefined,
      () => undefined
    );
    if (waitMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      settled,
      new Promise<void>(resolve => {
        timer = setTimeout(resolve, waitMs);
      })
    ]);
    clearTimeout(timer);
  }

  /**
   * The provider's configuration: discovered, or built from the explicit endpoints. A failure is
   * remembered for a short backoff and answered again the same way (same code, same description)
   * until then; a configuration problem (the secret file) is never remembered: it is checked afresh.
   *
   * @throws {@link Misconfigured} when the secret file cannot be used
   * @throws {@link UpstreamUnavailable} or {@link UpstreamError} when discovery fails
   */
  async discover(): Promise<Oidc.Configuration> {
    if (this.configuration === undefined) {
      const waited = (this.options.now() - this.failedAt) / 1000;
      const failed = this.lastError;
      if (failed !== undefined && waited < DISCOVERY_BACKOFF_S) {
        throw new BrokerError(failed.code, failed.message, {
          retryAfter: failed.retryAfter === undefined ? undefined : DISCOVERY_BACKOFF_S - waited,
          repeat: true
        });
      }
      this.configuration = this.runDiscovery();
      this.configuration.then(
        () => {
          // The end of a discovery backoff, said once (its refusals were logged only at debug).
          if (this.lastError !== undefined) {
            this.options.log.info('discovery_recovered', { provider: this.id });
          }
          this.lastError = undefined;
        },
        (err: BrokerError) => {
          this.configuration = undefined;
          if (err.code === 'config_error') return;
          this.failedAt = this.options.now();
          this.lastError = err;
          this.options.log.warn('discovery_failed', { provider: this.id, reason: err.message });
        }
      );
    }
    return this.configuration;
  }

  private async clientAuth(oc: typeof Oidc): Promise<Oidc.ClientAuth> {
    const { client_secret_file: file, token_endpoint_auth_method: method } = this.config;
    if (file === null) return oc.None();
    const secret = await readClientSecret(this.id, file);
    return method === 'client_secret_post'
      ? oc.ClientSecretPost(secret)
      : oc.ClientSecretBasic(secret);
  }

  /** Client metadata the broker sets itself: the clock tolerance of JWT time checks. */
  private clientMetadata(oc: typeof Oidc): Partial<Oidc.ClientMetadata> {
    return { [oc.clockTolerance]: this.options.clockToleranceSeconds ?? 30 };
  }

  private async runDiscovery(): Promise<Oidc.Configuration> {
    const oc = await openidClient();
    // The secret file first: a missing file is the admin's to fix, never reported as the network's.
    const auth = await this.clientAuth(oc);
    try {
      return await this.configure(oc, auth);
    } catch (err) {
      // Anything else that fails here is answered as a BrokerError, never a bare 500.
      throw err instanceof BrokerError
        ? err
        : new UpstreamError(`Provider '${this.id}' could not be set up.`, { cause: err });
    }
  }

  private async configure(oc: typeof Oidc, auth: Oidc.ClientAuth): Promise<Oidc.Configuration> {
    const { endpoints, issuer } = this.config;
    if (endpoints !== null) {
      // No discovery: the endpoints are configured. Without a known issuer, an `iss` callback
      // parameter can never match (so it is refused) and ID tokens are dropped unread.
      const configuration = new oc.Configuration(
        {
          issuer: issuer ?? `urn:jupyter-token-broker:unknown-issuer:${this.id}`,
          authorization_response_iss_parameter_supported:
            this.config.authorization_response_iss_parameter_supported,
          ...Object.fromEntries(Object.entries(endpoints).filter(([, v]) => v !== null))
        },
        this.config.client_id,
        this.clientMetadata(oc),
        auth
      );
      configuration[oc.customFetch] = deadlineFetch(
        this.options,
        issuer === null ? endpoints.token_endpoint : null
      );
      if (Object.values(endpoints).some(v => typeof v === 'string' && v.startsWith('http:'))) {
        oc.allowInsecureRequests(configuration);
      }
      return configuration;
    }
    const url = new URL(issuer as string);
    const wellKnown = `${(issuer as string).replace(/\/$/, '')}/.well-known/openid-configuration`;
    try {
      const metadata = this.clientMetadata(oc);
      const configuration = await oc.discovery(url, this.config.client_id, metadata, auth, {
        [oc.customFetch]: deadlineFetch(this.options, null),
        timeout: Math.ceil(this.options.timeoutMs / 1000),
        execute: url.protocol === 'http:' ? [oc.allowInsecureRequests] : []
      });
      configuration[oc.customFetch] = deadlineFetch(this.options, null);
      return configuration;
    } catch (err) {
      throw discoveryFailed(this.id, wellKnown, translate(oc, err, 'discovery'), err);
    }
  }

  /**
   * Builds the authorization URL of a login: PKCE S256, state, and a nonce when an ID token is due;
   * no secret in it.
   *
   * @param request - redirect URI, scopes and the login's checks; `browserEndpoint`, when the browser
   *   reaches the authorization endpoint at another URL than the broker (an IdP behind a proxy)
   * @returns the URL to open in the browser
   * @throws {@link InvalidRequest} when the provider has no authorization endpoint
   */
  async authorizationUrl(request: {
    redirectUri: string;
    scopes: readonly string[];
    checks: LoginChecks;
    browserEndpoint?: string;
  }): Promise<string> {
    const configuration = await this.discover();
    const oc = await openidClient();
    if (configuration.serverMetadata().authorization_endpoint === undefined) {
      throw new InvalidRequest(
        `Provider '${this.id}' has no browser sign-in; use the device flow.`
      );
    }
    const challenge = await oc.calculatePKCECodeChallenge(request.checks.verifier);
    const params: Record<string, string> = {
      ...this.config.authorization_params,
      redirect_uri: request.redirectUri,
      state: request.checks.state,
      code_challenge: challenge,
      code_challenge_method: 'S256'
    };
    if (request.scopes.length > 0) params.scope = request.scopes.join(' ');
    if (this.expectsIdToken) params.nonce = request.checks.nonce;
    const url = oc.buildAuthorizationUrl(configuration, params);
    if (request.browserEndpoint === undefined) return url.href;
    const browserUrl = new URL(request.browserEndpoint);
    browserUrl.search = url.search;
    return browserUrl.href;
  }

  /**
   * Completes a login: checks the callback (state, iss, errors) and redeems the code.
   *
   * @param callbackUrl - the redirect URI with the callback's query
   * @param checks - the login's state, nonce and PKCE verifier
   * @param asked - the scopes asked at login
   * @returns the tokens
   * @throws {@link InvalidRequest} when the IdP refused or the answer does not check out
   * @throws {@link UpstreamError} when the IdP granted more than was asked
   */
  async exchangeCode(
    callbackUrl: URL,
    checks: LoginChecks,
    asked: readonly string[]
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    const refused = issuerProblem(
      configuration.serverMetadata(),
      callbackUrl.searchParams,
      this.id
    );
    if (refused !== undefined) throw refused;
    let tokens;
    try {
      tokens = await oc.authorizationCodeGrant(
        configuration,
        callbackUrl,
        this.expectsIdToken
          ? {
              pkceCodeVerifier: checks.verifier,
              expectedState: checks.state,
              expectedNonce: checks.nonce,
              idTokenExpected: true
            }
          : { pkceCodeVerifier: checks.verifier, expectedState: checks.state }
      );
    } catch (err) {
      throw translate(oc, err, 'code', this.id);
    }
    return this.toTokenSet(tokens, asked);
  }

  /**
   * Uses a refresh token. An answer without a refresh token keeps the old one (Cognito and others
   * that do not rotate). The answer's scopes are NOT checked against those asked here: a rotated
   * refresh token must be stored even when the access token that came with it is refused, so the
   * caller stores first and then refuses a wider token (`widerThanAsked`).
   *
   * @param refreshToken - the current refresh token
   * @param scopes - narrower scopes to ask for, or undefined for the grant's own
   * @param granted - the grant's scopes
   * @returns the new tokens; `refreshToken` is the rotated one, or the old one when not rotated;
   *   `scopes` as the IdP named them (the ones asked when it named none)
   * @throws {@link GrantRejected} on `invalid_grant`
   */
  async refresh(
    refreshToken: string,
    scopes: readonly string[] | undefined,
    granted: readonly string[]
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    let tokens;
    try {
      tokens = await oc.refreshTokenGrant(
        configuration,
        refreshToken,
        scopes === undefined ? undefined : { scope: scopes.join(' ') }
      );
    } catch (err) {
      throw translate(oc, err, 'refresh', this.id);
    }
    const set = this.toTokenSet(tokens, scopes ?? granted, { unchecked: true });
    return set.refreshToken === null ? { ...set, refreshToken } : set;
  }

  /**
   * Revokes a refresh token at the IdP (RFC 7009), at the endpoint {@link revocationConfiguration}
   * finds.
   *
   * @param refreshToken - the token (never logged)
   * @returns `revoked`, or `no_endpoint` when the IdP has no revocation endpoint
   * @throws {@link UpstreamUnavailable} when the IdP (or its metadata) is unreachable, slow or failing
   * @throws {@link UpstreamError} when it refused the request
   */
  async revoke(refreshToken: string): Promise<'revoked' | 'no_endpoint'> {
    const configuration = await this.revocationConfiguration();
    if (configuration === null) return 'no_endpoint';
    const oc = await openidClient();
    try {
      await oc.tokenRevocation(configuration, refreshToken, { token_type_hint: 'refresh_token' });
    } catch (err) {
      throw translate(oc, err, 'revocation', this.id);
    }
    return 'revoked';
  }

  /**
   * Where refresh tokens are revoked: the configured `revocation_endpoint`, else the one of OIDC
   * discovery (or of the explicit endpoints), else, for a discovered provider, the one of its RFC
   * 8414 metadata (`/.well-known/oauth-authorization-server`: Django OAuth Toolkit publishes its
   * revocation endpoint only there). Found once; a metadata request that failed is asked again.
   *
   * @returns the configuration to revoke with, or null when the IdP has no revocation endpoint
   * @throws {@link UpstreamUnavailable} when discovery or the metadata request fails
   */
  private async revocationConfiguration(): Promise<Oidc.Configuration | null> {
    const configuration = await this.discover();
    if (this.revocation === undefined) {
      this.revocation = this.findRevocation(configuration);
      this.revocation.catch(() => {
        this.revocation = undefined;
      });
    }
    return this.revocation;
  }

  private async findRevocation(
    configuration: Oidc.Configuration
  ): Promise<Oidc.Configuration | null> {
    const metadata = configuration.serverMetadata();
    const endpoint =
      this.config.revocation_endpoint ??
      metadata.revocation_endpoint ??
      (this.config.endpoints === null
        ? await this.metadataRevocationEndpoint(configuration)
        : null);
    if (endpoint == null) return null;
    if (endpoint === metadata.revocation_endpoint) return configuration;
    const oc = await openidClient();
    // The metadata as plain data (serverMetadata() carries a helper function).
    const plain = Object.fromEntries(
      Object.entries(metadata).filter(([, v]) => typeof v !== 'function')
    ) as Oidc.ServerMetadata;
    const revoking = new oc.Configuration(
      { ...plain, revocation_endpoint: endpoint },
      this.config.client_id,
      this.clientMetadata(oc),
      await this.clientAuth(oc)
    );
    revoking[oc.customFetch] = deadlineFetch(this.options, null);
    if (endpoint.startsWith('http:')) oc.allowInsecureRequests(revoking);
    return revoking;
  }

  /**
   * The `revocation_endpoint` of the IdP's RFC 8414 metadata: at the RFC's own place (the well-known
   * path before the issuer's path), then after the issuer's path (where an IdP mounted under a
   * prefix, like Django OAuth Toolkit's `/o`, serves it). An answer must name this issuer (RFC 8414
   * §3.3) and an http(s) endpoint (http only when the issuer is).
   *
   * @returns the endpoint, or null when neither place has one
   * @throws {@link UpstreamUnavailable} when the IdP cannot be reached or fails
   */
  private async metadataRevocationEndpoint(
    configuration: Oidc.Configuration
  ): Promise<string | null> {
    const oc = await openidClient();
    const { issuer } = configuration.serverMetadata();
    const url = new URL(issuer);
    const path = url.pathname.replace(/\/$/, '');
    const places = [
      `${url.origin}/.well-known/oauth-authorization-server${path}`,
      `${url.origin}${path}/.well-known/oauth-authorization-server`
    ];
    const fetchImpl = configuration[oc.customFetch] as Oidc.CustomFetch;
    for (const place of [...new Set(places)]) {
      const response = await fetchImpl(place, {
        method: 'GET',
        headers: { accept: 'application/json' },
        redirect: 'manual',
        body: undefined
      });
      let body: unknown;
      try {
        body = response.ok ? await response.json() : undefined;
      } catch {
        body = undefined;
      }
      if (body === undefined) await response.body?.cancel().catch(() => undefined);
      const found = body as { issuer?: unknown; revocation_endpoint?: unknown } | undefined;
      if (typeof found !== 'object' || found === null || found.issuer !== issuer) continue;
      const endpoint = found.revocation_endpoint;
      if (typeof endpoint !== 'string') return null;
      let parsed: URL;
      try {
        parsed = new URL(endpoint);
      } catch {
        return null;
      }
      const allowed = parsed.protocol === 'https:' || parsed.protocol === url.protocol;
      return allowed && parsed.protocol.startsWith('http') ? endpoint : null;
    }
    return null;
  }

  /**
   * A service account's token (client credentials grant). The audience is sent as an RFC 8707
   * `resource`.
   *
   * @param scopes - scopes to ask (a subset of the allowed ones)
   * @param audience - the resource the token is for, or undefined
   * @returns the tokens (no refresh token is kept)
   */
  async clientCredentials(
    scopes: readonly string[],
    audience: string | undefined
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    const params: Record<string, string> = {};
    if (scopes.length > 0) params.scope = scopes.join(' ');
    if (audience !== undefined) params.resource = audience;
    let tokens;
    try {
      tokens = await oc.clientCredentialsGrant(configuration, params);
    } catch (err) {
      throw translate(oc, err, 'client_credentials', this.id);
    }
    return { ...this.toTokenSet(tokens, scopes), refreshToken: null };
  }

  /**
   * RFC 8693: exchanges another provider's access token for a narrowed one of this provider.
   *
   * @param subjectToken - the subject provider's access token (never logged)
   * @param scopes - scopes to ask
   * @param audience - the audience to ask, or undefined
   * @returns the exchanged access token (no refresh token is kept)
   */
  async exchangeToken(
    subjectToken: string,
    scopes: readonly string[],
    audience: string | undefined
  ): Promise<TokenSet> {
    const configuration = await this.discover();
    const oc = await openidClient();
    const params: Record<string, string> = {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE
    };
    if (scopes.length > 0) params.scope = scopes.join(' ');
    if (audience !== undefined) params.audience = audience;
    let tokens;
    try {
      tokens = await oc.genericGrantRequest(configuration, TOKEN_EXCHANGE_GRANT, params);
    } catch (err) {
      throw translate(oc, err, 'token_exchange', this.id);
    }
    const issued = (tokens as { issued_token_type?: unknown }).issued_token_type;
    if (issued !== undefined && issued !== ACCESS_TOKEN_TYPE) {
      throw new UpstreamError(
        `Provider '${this.id}' exchanged for a token that is not an access token.`
      );
    }
    return { ...this.toTokenSet(tokens, scopes), refreshToken: null };
  }

  /**
   * Starts a device authorization (RFC 8628).
   *
   * @param scopes - scopes to ask
   * @returns the codes and the polling interval
   * @throws {@link InvalidRequest} when the provider has no device authorization endpoint
   */
  async startDevice(scopes: readonly string[]): Promise<DeviceAuthorization> {
    const configuration = await this.discover();
    const oc = await openidClient();
    if (configuration.serverMetadata().device_authorization_endpoint === undefined) {
      throw new InvalidRequest(`Provider '${this.id}' does not offer the device flow.`);
    }
    let answer;
    try {
      answer = await oc.initiateDeviceAuthorization(
        configuration,
        scopes.length > 0 ? { scope: scopes.join(' ') } : {}
      );
    } catch (err) {
      throw translate(oc, err, 'device', this.id);
    }
    return {
      deviceCode: answer.device_code,
      userCode: answer.user_code,
      verificationUri: answer.verification_uri,
      verificationUriComplete: answer.verification_uri_complete,
      expiresIn: answer.expires_in,
      interval: answer.interval ?? DEFAULT_INTERVAL_S
    };
  }

  /**
   * Polls the token endpoint once for a device authorization.
   *
   * @param deviceCode - from {@link startDevice}
   * @param asked - the scopes asked
   * @returns the tokens, or `authorization_pending` / `slow_down`
   * @throws {@link InvalidRequest} when the user refused or the code expired
   */
  async pollDevice(deviceCode: string, asked: readonly string[]): Promise<DevicePoll> {
    const configuration = await this.discover();
    const oc = await openidClient();
    let tokens;
    try {
      tokens = await oc.genericGrantRequest(configuration, DEVICE_CODE_GRANT, {
        device_code: deviceCode
      });
    } catch (err) {
      if (err instanceof oc.ResponseBodyError) {
        if (err.error === 'authorization_pending' || err.error === 'slow_down') return err.error;
        if (err.error === 'access_denied') {
          throw new InvalidRequest('The sign-in was refused at the identity provider.', {
            cause: err
          });
        }
        if (err.error === 'expired_token') {
          throw new InvalidRequest('The device code expired before the sign-in finished.', {
            cause: err
          });
        }
      }
      throw translate(oc, err, 'device', this.id);
    }
    return this.toTokenSet(tokens, asked);
  }

  /**
   * Who signed in: from the ID token's claims, else from the userinfo endpoint (with the provider's
   * `account_claim`). A failing userinfo call leaves the account unknown; it does not fail the login.
   *
   * @param tokens - the login's tokens
   * @returns account label and subject
   */
  async identify(tokens: TokenSet): Promise<Identity> {
    const claim = this.config.account_claim;
    if (tokens.claims !== undefined) {
      const sub = tokens.claims.sub;
      return {
        account: accountLabel(tokens.claims, claim),
        subject: typeof sub === 'string' ? sub : null
      };
    }
    const configuration = await this.discover();
    const oc = await openidClient();
    const endpoint = configuration.serverMetadata().userinfo_endpoint;
    if (endpoint === undefined) return { account: null, subject: null };
    try {
      const info = await fetchUserInfo(
        (url, init) => configuration[oc.customFetch]!(url, init as Oidc.CustomFetchOptions),
        endpoint,
        tokens.accessToken
      );
      const sub = info.claims.sub;
      return {
        account: accountLabel(info.claims, claim),
        subject: typeof sub === 'string' ? sub : null
      };
    } catch (err) {
      this.options.log.warn('userinfo_failed', {
        provider: this.id,
        reason: (err as Error).message
      });
      return { account: null, subject: null };
    }
  }

  /**
   * The checked token set of an answer; a token wider than `asked` is refused unless the caller
   * checks it itself (`unchecked`, for a refresh: its rotated refresh token is stored first).
   */
  private toTokenSet(
    tokens: Oidc.TokenEndpointResponse & Oidc.TokenEndpointResponseHelpers,
    asked: readonly string[],
    { unchecked = false } = {}
  ): TokenSet {
    const granted =
      typeof tokens.scope === 'string' ? tokens.scope.split(' ').filter(Boolean) : [...asked];
    if (!unchecked) requireNotWider(this.id, [...asked, ...this.config.implied_scopes], granted);
    // The answer's own `expires_in`, not openid-client's expiresIn(): that one counts down from the
    // moment the answer arrived in whole seconds, so a millisecond later it says 59 for a 60 s token
    // (seen in CI as "min_ttl 60 is longer than the token lifetime (59 s)" under load).
    const expiresIn =
      typeof tokens.expires_in === 'number' && Number.isFinite(tokens.expires_in)
        ? Math.floor(tokens.expires_in)
        : DEFAULT_EXPIRES_IN;
    return {
      accessToken: tokens.access_token,
      tokenType: 'Bearer',
      expiresAt: Math.floor(this.options.now() / 1000) + expiresIn,
      lifetime: expiresIn,
      scopes: granted,
      refreshToken: tokens.refresh_token ?? null,
      claims: tokens.claims()
    };
  }
}

/**
 * A discovery failure that says which provider, which URL, why (the network's own words, e.g.
 * `connect ECONNREFUSED 127.0.0.1:9`, or the library's) and what to do, keeping the translated
 * error's code. An issuer mismatch names both issuers: it is a configuration mistake (often a
 * trailing slash) that only the configured `issuer` can fix.
 */
function discoveryFailed(
  provider: string,
  url: string,
  translated: BrokerError,
  err: unknown
): BrokerError {
  const prefix = `Discovery of provider '${provider}' at ${url} failed: `;
  const mismatch = issuerMismatch(err);
  if (mismatch !== undefined) {
    const { configured, named } = mismatch;
    const slash =
      configured.replace(/\/+$/, '') === named.replace(/\/+$/, '')
        ? ' (they differ only by a trailing slash)'
        : '';
    return new UpstreamError(
      `${prefix}the identity provider names its issuer '${named}', not the configured '${configured}'${slash}. ` +
        `To fix it: set the provider's issuer to '${named}', exactly as the identity provider's discovery document names it.`,
      { cause: err }
    );
  }
  const why = networkReason(err);
  let description = `${prefix}${translated.message.replace(/\.$/, '')}${why === undefined ? '' : ` (${why})`}.`;
  if (translated.code === 'upstream_unavailable' && !/upstream_timeout_ms/.test(description)) {
    description +=
      " Check that the identity provider runs and that the provider's issuer URL is right.";
  }
  return translated.code === 'upstream_unavailable'
    ? new UpstreamUnavailable(description, { cause: err, retryAfter: translated.retryAfter })
    : new BrokerError(translated.code, description, { cause: err });
}

/**
 * The two issuers of openid-client's "discovered metadata issuer does not match the expected
 * issuer" check (its `cause` carries them), as safe-to-show text; undefined for any other error.
 */
function issuerMismatch(err: unknown): { configured: string; named: string } | undefined {
  const { code, cause } = (err ?? {}) as { code?: unknown; cause?: unknown };
  if (code !== 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || typeof cause !== 'object' || !cause) {
    return undefined;
  }
  const { attribute, expected, body } = cause as {
    attribute?: unknown;
    expected?: unknown;
    body?: { issuer?: unknown } | null;
  };
  const configured = publicUrl(expected);
  const named = publicUrl(body?.issuer);
  if (attribute !== 'issuer' || configured === undefined || named === undefined) return undefined;
  return { configured, named };
}

/** An issuer URL (public metadata) as one bounded line, or undefined when it is not a URL. */
function publicUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 300 || !URL.canParse(value)) return undefined;
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f'\s]/.test(value) ? undefined : value;
}

/** The system error behind a failed connection (`getaddrinfo ENOTFOUND idp.example`), if any. */
function networkReason(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && typeof current === 'object' && current !== null; depth++) {
    const { code, message, errors } = current as {
      code?: unknown;
      message?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
      return typeof message === 'string' && message.includes(code) ? message : code;
    }
    if (Array.isArray(errors) && errors.length > 0) {
      current = errors[0];
      continue;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
