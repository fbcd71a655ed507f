/**
 * What one grant type is to the token service (`tokens/service.ts`): how a request maps to a cached
 * token, how a new token is got from upstream, and what the provider list shows. One module per
 * grant type implements it; `index.ts` is the table that picks one by the provider's `grant`.
 *
 * The service does what is the same for every grant: the cache, single-flight, the cached fallback
 * during an outage, the `min_ttl` rule. A handler does only what is its own.
 */
import type { AccessToken } from '../accessToken.js';
import { BrokerError } from '../errors.js';
import type { BrokerEvents, GrantEndReason, UpstreamGrant } from '../events.js';
import { HubProvider } from '../providers/hub.js';
import type { OidcProvider } from '../providers/oidc.js';
import type { Provider, ProviderRegistry } from '../providers/registry.js';
import type { TokenStore } from '../stores/tokenStore.js';
import type { TokenCache } from '../tokenCache.js';

/** What a caller asks for. */
export interface TokenRequest {
  /** Scopes (already checked against the provider's allowed set), or undefined for the default. */
  readonly scopes: readonly string[] | undefined;
  /**
   * Seconds the token must stay valid (a promise: refused when a new token cannot keep it), or
   * undefined for the default (`default_min_ttl`, at most half the token's lifetime).
   */
  readonly minTtl: number | undefined;
  /** Audience, or undefined. */
  readonly audience: string | undefined;
}

/** A request as a handler sees it. */
export interface GrantRequest extends TokenRequest {
  /** Epoch seconds when the caller asked: `min_ttl` counts from here. */
  readonly asked: number;
  /**
   * An access token its resource server refused (an egress call's 401), or undefined: a token
   * equal to it, cached or stored by another broker, is not handed out again; a new one is got.
   */
  readonly rejected: string | undefined;
}

/** What the provider list shows of one provider. */
export interface GrantStatus {
  readonly signedIn: boolean;
  readonly account: string | null;
  readonly scopes: readonly string[] | null;
  /** Epoch seconds of the cached default token, or null. */
  readonly expiresAt: number | null;
  readonly needsLogin: boolean;
}

/** What the token service lends every handler. */
export interface GrantServices {
  readonly store: TokenStore;
  readonly cache: TokenCache;
  readonly providers: ProviderRegistry;
  readonly events: BrokerEvents;
  /** Seconds ahead of expiry to get a new token (at most half a token's lifetime). */
  readonly marginSeconds: number;
  /** `min_ttl` of a caller that names none (at most half a token's lifetime). */
  readonly defaultMinTtl: number;
  /** Epoch seconds now. */
  now(): number;
  /** An access token of a provider, through the service (the token exchange's subject). */
  token(provider: Provider, request: TokenRequest): Promise<AccessToken>;
}

/** One grant type. */
export interface GrantHandler {
  /** The grant its upstream calls are reported under. */
  readonly upstream: UpstreamGrant;
  /** Whose token lifetime a too-long `min_ttl` is measured against, for the message. */
  readonly issuer: 'identity provider' | 'hub login';
  /**
   * Whether the upstream is asked for `min_ttl` (the hub refreshes ahead for it): then a caller
   * needing more than a shared call asked for asks again instead of taking that call's token.
   */
  readonly asksMinTtl: boolean;
  /**
   * Checks a request against the grant (audience, granted scopes) before the cache is read.
   *
   * @returns the cache key of the token that answers it
   * @throws a {@link BrokerError} when the grant cannot answer it
   */
  keyOf(provider: Provider, request: GrantRequest): Promise<string> | string;
  /**
   * Gets a new token from upstream and caches it under `key`. Called once at a time per key.
   *
   * @returns the token
   */
  fetch(provider: Provider, key: string, request: GrantRequest): Promise<AccessToken>;
  /**
   * Checks a token (cached or new) against the request before it is handed out, when the grant
   * only knows afterwards what a token carries.
   *
   * @throws {@link BrokerError} when the token does not fit the request
   */
  accept?(provider: Provider, token: AccessToken, request: GrantRequest): void;
  /** What the provider list shows, without token material. */
  status(provider: Provider): Promise<GrantStatus>;
  /**
   * Forgets what the handler remembers of a provider once its sign-in was ended (sign-out, an
   * admin's revocation), so the next status asks again instead of reporting the old state.
   */
  forget?(provider: string): void;
}

/**
 * The provider as the OAuth/OIDC provider its grant needs (the table picks by `grant`, and the
 * config check ties `grant: hub` to kind `hub`).
 *
 * @param provider - a provider whose grant is not `hub`
 * @returns it
 * @throws Error when it is a `hub` provider (a config check failed)
 * @example
 * ```ts
 * const tokens = await oidcProvider(provider).clientCredentials(['read'], undefined);
 * ```
 */
export function oidcProvider(provider: Provider): OidcProvider {
  if (provider instanceof HubProvider) throw new Error(`'${provider.id}' is a hub provider`);
  return provider;
}

/**
 * The provider as a `hub` provider.
 *
 * @param provider - a provider whose grant is `hub`
 * @returns it
 * @throws Error when it is not one (a config check failed)
 * @example
 * ```ts
 * const tokens = await hubProvider(provider).fetchToken(60);
 * ```
 */
export function hubProvider(provider: Provider): HubProvider {
  if (!(provider instanceof HubProvider)) throw new Error(`'${provider.id}' is not a hub provider`);
  return provider;
}

/**
 * Reports an upstream token call that answered.
 *
 * @param events - the emitter
 * @param fetched - the provider, the grant, the token, the call's seconds and, for a refresh,
 *   whether the refresh token was rotated and which recorded scopes the IdP dropped from the grant
 * @example
 * ```ts
 * reportFetched(events, { provider: 'svc', grant: 'client_credentials', token, seconds: elapsed() });
 * ```
 */
export function reportFetched(
  events: BrokerEvents,
  fetched: {
    provider: string;
    grant: UpstreamGrant;
    token: AccessToken;
    seconds: number;
    rotated?: boolean;
    reduced?: readonly string[];
  }
): void {
  const { provider, grant, token, seconds, rotated, reduced } = fetched;
  void events.emit({
    kind: 'token.fetched',
    provider,
    grant,
    scopes: token.scopes,
    expiresAt: token.expiresAt,
    ...(rotated === undefined ? {} : { rotated }),
    ...(reduced === undefined || reduced.length === 0 ? {} : { reduced }),
    seconds
  });
}

/**
 * Reports an upstream token call that failed.
 *
 * @param events - the emitter
 * @param failed - the provider, the grant, the scopes asked (null: the default), the error, the
 *   call's seconds, the backoff that follows and whether the grant ended
 * @example
 * ```ts
 * reportFailed(events, { provider: 'svc', grant: 'client_credentials', scopes: null, error, seconds: elapsed() });
 * ```
 */
export function reportFailed(
  events: BrokerEvents,
  failed: {
    provider: string;
    grant: UpstreamGrant;
    scopes: readonly string[] | null;
    error: unknown;
    seconds: number;
    retryAfter?: number;
    grantEnded?: GrantEndReason;
  }
): void {
  const { provider, grant, scopes, error, seconds, retryAfter, grantEnded } = failed;
  void events.emit({
    kind: 'token.fetch_failed',
    provider,
    grant,
    scopes,
    code: error instanceof BrokerError ? error.code : 'server_error',
    description: error instanceof Error ? error.message : String(error),
    ...(retryAfter === undefined ? {} : { retryAfter }),
    ...(grantEnded === undefined ? {} : { grantEnded }),
    seconds
  });
}
