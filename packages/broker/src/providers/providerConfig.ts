/**
 * The `providers[]` section of the config file: provider kinds, their presets, and the grant each
 * provider uses. Every kind is resolved here into one shape — either an issuer to discover, or
 * explicit endpoints — so the rest of the broker never branches on presets.
 *
 * Kinds:
 * - `oidc`: OpenID Connect discovery at `issuer`;
 * - `oauth2`: explicit endpoints, no discovery, no ID token, no nonce;
 * - `keycloak`: `realm_url` is the issuer (discovery), rotating refresh tokens, `offline_access`;
 * - `cognito`: `domain` gives `/oauth2/{authorize,token,userInfo,revoke}`; optional `issuer` (the
 *   user pool URL) checks ID tokens; refresh tokens may not rotate;
 * - `jupyterhub`: `hub_url` gives `/hub/api/oauth2/{authorize,token}` with the secret in the body,
 *   identity and scopes from `/hub/api/user`; no refresh tokens;
 * - `hub`: the user's JupyterHub login, tokens from the hub's own route (`hubConfig.ts`).
 */
import { ConfigError, didYouMean } from '../configError.js';
import { PROVIDER_ID } from '../contract.generated.js';
import { type EgressPrefix, egressOptions } from './egressConfig.js';
import { type HubEntry, type HubSource, validateHubProvider } from './hubConfig.js';

/** Provider ids: lower-case ASCII, digits, `_` and `-`; never `.`, `/` or NUL (from `openapi.yaml`). */
export { PROVIDER_ID };

/** How a provider is configured. */
export type ProviderKind = 'oidc' | 'oauth2' | 'keycloak' | 'cognito' | 'jupyterhub' | 'hub';

/** How the broker gets tokens from a provider (`hub`: from the hub's route, kind `hub` only). */
export type GrantType = 'authorization_code' | 'client_credentials' | 'token_exchange' | 'hub';

/**
 * How a sign-in's grant answers a request for fewer scopes than it holds (a narrowed token):
 * - `refresh`: a refresh with `scope` (RFC 6749 §6). Only for IdPs that keep the refresh token's scope
 *   (oidc-provider, Keycloak 25+): one that binds the rotated refresh token to the narrowed scope (Django
 *   OAuth Toolkit, Keycloak 24.0) shrinks the grant for good;
 * - `exchange`: RFC 8693 token exchange of the grant's own access token at the same token endpoint;
 *   the refresh token is only ever refreshed without `scope`, so the grant cannot shrink;
 * - `refuse`: 403 `scope_not_allowed` before any upstream call; only the grant's own token is handed out.
 */
export type NarrowingMethod = 'refresh' | 'exchange' | 'refuse';

/** How the broker authenticates at the token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** Endpoints of a provider that has no discovery. */
export interface ProviderEndpoints {
  readonly authorization_endpoint: string | null;
  readonly token_endpoint: string;
  readonly userinfo_endpoint: string | null;
  readonly revocation_endpoint: string | null;
  readonly device_authorization_endpoint: string | null;
}

/** RFC 8693: derive this provider's tokens from another provider's access token. */
export interface TokenExchangeConfig {
  /** The provider whose access token is the subject token. */
  readonly subject_provider: string;
  /** Audience asked when the caller names none, or null. */
  readonly audience: string | null;
  /** Scopes asked when the caller names none, or null for the provider's `scopes`. */
  readonly scopes: readonly string[] | null;
}

/** One identity provider the broker can get tokens from, resolved from its kind. */
export interface ProviderConfig {
  /** Stable id used in URLs. */
  readonly id: string;
  /** Human-readable name for the panel. */
  readonly title: string;
  readonly kind: ProviderKind;
  /**
   * With discovery (`endpoints` null): the issuer whose `/.well-known/openid-configuration` is read.
   * Without: the issuer an `iss` response parameter and ID tokens must name, or null when unknown
   * (then a callback carrying `iss` is refused and ID tokens are ignored, never trusted).
   */
  readonly issuer: string | null;
  /** Explicit endpoints, or null for OIDC discovery at `issuer`. */
  readonly endpoints: ProviderEndpoints | null;
  /**
   * Where sign-outs revoke refresh tokens (RFC 7009), when configured (any kind); null: the
   * discovered one, else the IdP's RFC 8414 metadata, else a kind's preset (`providers/oidc.ts`).
   */
  readonly revocation_endpoint: string | null;
  /**
   * Whether a new sign-in revokes the grant it replaces at the IdP. `auto` (the default): only when
   * the ID tokens show another IdP session (`sid`, else `auth_time`, differ), since an IdP may keep
   * one grant per session (oidc-provider does) and end all of its tokens when one is revoked, the new
   * sign-in's too; `true` (kind `cognito`'s default): always, for an IdP that gives each sign-in its
   * own grant (Cognito, Django OAuth Toolkit); `false`: never.
   */
  readonly revoke_replaced_grant: boolean | 'auto';
  /** Whether the callback must carry `iss` (RFC 9207); discovered providers say so themselves. */
  readonly authorization_response_iss_parameter_supported: boolean;
  /** OAuth client id registered at the IdP. */
  readonly client_id: string;
  /** Path of a 0600 file holding the client secret; null for a public client with PKCE. */
  readonly client_secret_file: string | null;
  readonly token_endpoint_auth_method: ClientAuthMethod;
  /** The allowed scopes and the default set asked at login. */
  readonly scopes: readonly string[];
  /** Exact redirect URI; null means the one the server extension sends per login. */
  readonly redirect_uri: string | null;
  /**
   * Where the browser signs in when it cannot reach the authorization endpoint the broker uses (an IdP
   * reached through the Jupyter server's proxy): an absolute URL, or a path relative to the Jupyter
   * server's public URL (`X-Broker-Server-Url`), e.g. `proxy/absolute/9400/auth`. Null or absent: the
   * discovered or configured endpoint. Only the browser's URL changes; the broker calls the IdP directly.
   */
  readonly browser_authorization_endpoint?: string | null;
  /** Extra authorization request parameters (e.g. `audience`, `prompt`). */
  readonly authorization_params: Readonly<Record<string, string>>;
  readonly grant: GrantType;
  /** Audiences a caller may ask for (client credentials and token exchange). */
  readonly audiences: readonly string[];
  /**
   * How a narrowed token is got from a sign-in's grant; null for grants that keep no refresh token
   * (client credentials, token exchange: each token is asked with its own scopes) and kind `hub`.
   */
  readonly narrowing: NarrowingMethod | null;
  readonly token_exchange: TokenExchangeConfig | null;
  /**
   * Scopes the IdP always adds to what is asked, accepted beyond the request (JupyterHub adds the
   * scopes that identify the user to the service). Any other extra scope refuses the token.
   */
  readonly implied_scopes: readonly string[];
  /** The claim that names the account (userinfo or ID token); null: preferred_username, email, name, sub. */
  readonly account_claim: string | null;
  /**
   * Where the broker's egress may send this provider's tokens (`egress/allowlist.ts`); empty: the
   * provider has no egress. Kind `hub`: what the hub announces (`c.TokenBrokerHub.egress`).
   */
  readonly egress: readonly EgressPrefix[];
  /** Whether the token route hands out this provider's tokens; false: only its egress uses them. */
  readonly expose_token: boolean;
  /** Kind `hub` only: the hub's token route and the server's API token. */
  readonly hub?: HubSource;
}

const COMMON_KEYS = [
  'id',
  'title',
  'kind',
  'client_id',
  'client_secret_file',
  'token_endpoint_auth_method',
  'scopes',
  'redirect_uri',
  'browser_authorization_endpoint',
  'authorization_params',
  'grant',
  'audiences',
  'token_exchange',
  'account_claim',
  'implied_scopes',
  'narrowing',
  'revocation_endpoint',
  'revoke_replaced_grant',
  'egress',
  'expose_token'
];
const ENDPOINT_KEYS = [
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'revocation_endpoint',
  'device_authorization_endpoint'
] as const;

/** The options each kind knows, besides the common ones. */
const KIND_KEYS: Readonly<Record<ProviderKind, readonly string[]>> = {
  oidc: ['issuer'],
  oauth2: ['issuer', 'authorization_response_iss_parameter_supported', ...ENDPOINT_KEYS],
  keycloak: ['realm_url'],
  cognito: ['domain', 'issuer'],
  jupyterhub: ['hub_url'],
  hub: ['token_url', 'hub_api_token']
};
const KINDS = Object.keys(KIND_KEYS) as ProviderKind[];
/** Every option name some kind knows, for suggestions. */
function allKeys(): string[] {
  return [...new Set([...COMMON_KEYS, ...Object.values(KIND_KEYS).flat()])];
}
const GRANTS: readonly GrantType[] = ['authorization_code', 'client_credentials', 'token_exchange'];
/** Every narrowing method, the default (`refuse`) first. */
const ANY_NARROWING: readonly NarrowingMethod[] = ['refuse', 'refresh', 'exchange'];
/**
 * The narrowing methods each sign-in kind accepts; the first is its default. Every default is
 * `refuse`: the broker cannot tell from discovery whether an IdP keeps a refresh token's scope on a
 * narrowed refresh (Django OAuth Toolkit does not, Keycloak 24.0 did not), nor whether it lets this
 * client exchange its own tokens, and guessing wrong shrinks the user's grant for good. Cognito's
 * refresh answer names no `scope` (a "narrowed" token could carry every scope unseen) and it has no
 * token exchange; JupyterHub issues no refresh token: both only refuse.
 */
const NARROWING_OF_KIND: Readonly<
  Record<Exclude<ProviderKind, 'hub'>, readonly NarrowingMethod[]>
> = {
  oidc: ANY_NARROWING,
  keycloak: ANY_NARROWING,
  oauth2: ANY_NARROWING,
  cognito: ['refuse'],
  jupyterhub: ['refuse']
};
const AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'none'
];
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const CLAIM = /^[A-Za-z0-9_:.-]{1,64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

/**
 * Checks a URL option: https, or http on loopback only.
 *
 * @param value - the option's value
 * @param key - its dotted path, for the message
 * @returns the URL string as given
 * @throws {@link ConfigError}
 */
export function httpUrl(value: unknown, key: string): string {
  if (value == null) throw new ConfigError(key, 'is required (a URL)');
  if (typeof value !== 'string') throw new ConfigError(key, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new ConfigError(key, 'must be https (http only for 127.0.0.1/localhost)');
  }
  if (url.username || url.password) throw new ConfigError(key, 'must not carry credentials');
  return value;
}

function optionalUrl(value: unknown, key: string): string | null {
  return value == null ? null : httpUrl(value, key);
}

/** `browser_authorization_endpoint`: an absolute http(s) URL, or a relative path; no query, no fragment. */
function browserEndpoint(value: unknown, key: string): string | null {
  if (value == null) return null;
  if (typeof value !== 'string' || value === '')
    throw new ConfigError(key, 'must be a URL or a path');
  if (value.includes('?') || value.includes('#')) {
    throw new ConfigError(key, 'must have no query or fragment');
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return httpUrl(value, key);
  if (value.startsWith('/') || value.split('/').some(segment => segment === '..')) {
    throw new ConfigError(
      key,
      "must be a path relative to the Jupyter server's URL (no leading / or ..)"
    );
  }
  return value;
}

function scopeList(value: unknown, key: string): string[] {
  if (!Array.isArray(value) || value.some(s => typeof s !== 'string' || !SCOPE.test(s))) {
    throw new ConfigError(key, 'must be a list of scope strings');
  }
  return [...new Set(value as string[])];
}

function stringList(value: unknown, key: string): string[] {
  if (value == null) return [];
  if (
    !Array.isArray(value) ||
    value.some(s => typeof s !== 'string' || s === '' || s.length > 512)
  ) {
    throw new ConfigError(key, 'must be a list of non-empty strings');
  }
  return [...new Set(value as string[])];
}

/** `base` with exactly one trailing slash, so relative paths resolve under it. */
function underBase(base: string, path: string): string {
  return new URL(path, base.endsWith('/') ? base : `${base}/`).href;
}

/** Resolves the kind-specific options into issuer and endpoints. */
function resolveKind(
  kind: Exclude<ProviderKind, 'hub'>,
  raw: Record<string, unknown>,
  key: string,
  grant: GrantType
): Pick<ProviderConfig, 'issuer' | 'endpoints' | 'authorization_response_iss_parameter_supported'> {
  const none = { authorization_response_iss_parameter_supported: false };
  switch (kind) {
    case 'oidc':
      return { ...none, issuer: httpUrl(raw.issuer, `${key}.issuer`), endpoints: null };
    case 'keycloak': {
      const realm = httpUrl(raw.realm_url, `${key}.realm_url`);
      if (!/\/realms\/[^/]+\/?$/.test(new URL(realm).pathname)) {
        throw new ConfigError(`${key}.realm_url`, 'must end in /realms/<realm>');
      }
      return { ...none, issuer: realm.replace(/\/$/, ''), endpoints: null };
    }
    case 'cognito': {
      const domain = httpUrl(raw.domain, `${key}.domain`);
      if (new URL(domain).pathname !== '/') {
        throw new ConfigError(`${key}.domain`, 'must be the domain only, without a path');
      }
      return {
        ...none,
        issuer: optionalUrl(raw.issuer, `${key}.issuer`),
        endpoints: {
          authorization_endpoint: underBase(domain, 'oauth2/authorize'),
          token_endpoint: underBase(domain, 'oauth2/token'),
          userinfo_endpoint: underBase(domain, 'oauth2/userInfo'),
          revocation_endpoint: underBase(domain, 'oauth2/revoke'),
          device_authorization_endpoint: null
        }
      };
    }
    case 'jupyterhub': {
      const hub = httpUrl(raw.hub_url, `${key}.hub_url`);
      return {
        ...none,
        issuer: null,
        endpoints: {
          authorization_endpoint: underBase(hub, 'hub/api/oauth2/authorize'),
          token_endpoint: underBase(hub, 'hub/api/oauth2/token'),
          userinfo_endpoint: underBase(hub, 'hub/api/user'),
          revocation_endpoint: null,
          device_authorization_endpoint: null
        }
      };
    }
    case 'oauth2': {
      const endpoints = {
        authorization_endpoint: optionalUrl(
          raw.authorization_endpoint,
          `${key}.authorization_endpoint`
        ),
        token_endpoint: httpUrl(raw.token_endpoint, `${key}.token_endpoint`),
        userinfo_endpoint: optionalUrl(raw.userinfo_endpoint, `${key}.userinfo_endpoint`),
        revocation_endpoint: optionalUrl(raw.revocation_endpoint, `${key}.revocation_endpoint`),
        device_authorization_endpoint: optionalUrl(
          raw.device_authorization_endpoint,
          `${key}.device_authorization_endpoint`
        )
      };
      if (
        grant === 'authorization_code' &&
        endpoints.authorization_endpoint === null &&
        endpoints.device_authorization_endpoint === null
      ) {
        throw new ConfigError(
          `${key}.authorization_endpoint`,
          'is required for a sign-in (or give device_authorization_endpoint)'
        );
      }
      const issParam = raw.authorization_response_iss_parameter_supported ?? false;
      if (typeof issParam !== 'boolean') {
        throw new ConfigError(
          `${key}.authorization_response_iss_parameter_supported`,
          'must be true or false'
        );
      }
      const issuer = optionalUrl(raw.issuer, `${key}.issuer`);
      if (issParam && issuer === null) {
        throw new ConfigError(`${key}.issuer`, 'is required to check the iss response parameter');
      }
      return { issuer, endpoints, authorization_response_iss_parameter_supported: issParam };
    }
  }
}

function tokenExchange(raw: unknown, key: string): TokenExchangeConfig | null {
  if (raw == null) return null;
  if (!isObject(raw)) throw new ConfigError(key, 'must be an object');
  const known = ['subject_provider', 'audience', 'scopes'];
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) {
      throw new ConfigError(`${key}.${k}`, `is not a known option${didYouMean(k, known)}`);
    }
  }
  if (typeof raw.subject_provider !== 'string' || !PROVIDER_ID.test(raw.subject_provider)) {
    throw new ConfigError(`${key}.subject_provider`, 'must be a provider id');
  }
  if (raw.audience != null && (typeof raw.audience !== 'string' || raw.audience === '')) {
    throw new ConfigError(`${key}.audience`, 'must be a non-empty string');
  }
  return {
    subject_provider: raw.subject_provider,
    audience: (raw.audience as string | undefined) ?? null,
    scopes: raw.scopes == null ? null : scopeList(raw.scopes, `${key}.scopes`)
  };
}

/** `"a", "b" or "c"`. */
function choices(values: readonly string[]): string {
  const quoted = values.map(v => `"${v}"`);
  return quoted.length < 2
    ? quoted.join('')
    : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/**
 * Checks that a value is one of a closed set, suggesting the closest one when it is not.
 *
 * @throws {@link ConfigError}
 */
function oneOf<T extends string>(value: unknown, allowed: readonly T[], key: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  const hint = typeof value === 'string' ? didYouMean(value, allowed) : '';
  throw new ConfigError(key, `must be one of ${choices(allowed)}${hint}`);
}

/** Says why an option is not one of `kind`'s, with the name probably meant. */
function unknownOption(name: string, kind: ProviderKind, known: ReadonlySet<string>): string {
  const owners = KINDS.filter(k => KIND_KEYS[k].includes(name));
  if (owners.length > 0) {
    return `is an option of kind ${choices(owners)}, not of kind "${kind}"`;
  }
  const hint = didYouMean(name, known) || didYouMean(name, allKeys());
  return `is not an option of kind "${kind}"${hint}`;
}

/**
 * How messages name a provider entry: by its id when it has a valid one (`provider "demo"`), else by
 * its place in the list (`providers[0]`).
 */
function providerLabel(raw: unknown, key: string): string {
  const id = isObject(raw) ? raw.id : undefined;
  return typeof id === 'string' && PROVIDER_ID.test(id) ? `provider "${id}"` : key;
}

/** The same error, naming the provider entry `key` by `label`. */
function relabel(err: ConfigError, key: string, label: string): ConfigError {
  if (label === key || !err.key.startsWith(key)) return err;
  const rest = err.key.slice(key.length).replace(/^\./, '');
  return new ConfigError(err.key, err.problem, { label: rest ? `${label}: ${rest}` : label });
}

/**
 * Checks one `providers[i]` entry and resolves its kind. Messages name the provider by its id.
 *
 * @param raw - the parsed entry
 * @param key - its path, `providers[i]`
 * @returns the resolved provider
 * @throws {@link ConfigError} naming the first bad key (its `key` is the path, e.g.
 *   `providers[0].clinet_id`; its message names the provider, e.g. `provider "demo": clinet_id`)
 */
export function validateProvider(raw: unknown, key: string): ProviderConfig {
  try {
    return resolveProvider(raw, key);
  } catch (err) {
    throw err instanceof ConfigError ? relabel(err, key, providerLabel(raw, key)) : err;
  }
}

/** A `hub` provider: grant `hub`, no OAuth endpoints or client of its own. */
function hubProvider({ id, title, hub, egress, expose_token }: HubEntry): ProviderConfig {
  return {
    id,
    title,
    kind: 'hub',
    issuer: null,
    endpoints: null,
    authorization_response_iss_parameter_supported: false,
    client_id: 'jupyterhub-server',
    client_secret_file: null,
    token_endpoint_auth_method: 'none',
    // What the hub's token holds is only known from its answers.
    scopes: [],
    redirect_uri: null,
    authorization_params: {},
    grant: 'hub',
    audiences: [],
    revocation_endpoint: null,
    revoke_replaced_grant: false,
    narrowing: null,
    token_exchange: null,
    implied_scopes: [],
    account_claim: null,
    egress,
    expose_token,
    hub
  };
}

function resolveProvider(raw: unknown, key: string): ProviderConfig {
  if (!isObject(raw)) throw new ConfigError(key, 'must be an object');
  const kind = oneOf(raw.kind ?? 'oidc', KINDS, `${key}.kind`);
  if (kind === 'hub') return hubProvider(validateHubProvider(raw, key));
  const known = new Set([...COMMON_KEYS, ...KIND_KEYS[kind]]);
  for (const k of Object.keys(raw)) {
    if (!known.has(k) && raw[k] !== undefined)
      throw new ConfigError(`${key}.${k}`, unknownOption(k, kind, known));
  }
  const { id, title, client_id, client_secret_file, authorization_params } = raw;
  if (typeof id !== 'string' || !PROVIDER_ID.test(id)) {
    throw new ConfigError(`${key}.id`, `must match ${PROVIDER_ID.source}`);
  }
  if (title !== undefined && typeof title !== 'string') {
    throw new ConfigError(`${key}.title`, 'must be a string');
  }
  if (typeof client_id !== 'string' || client_id === '') {
    throw new ConfigError(`${key}.client_id`, 'must be a non-empty string');
  }
  if (
    client_secret_file != null &&
    (typeof client_secret_file !== 'string' || client_secret_file === '')
  ) {
    throw new ConfigError(`${key}.client_secret_file`, 'must be a path or null');
  }
  const secretFile = (client_secret_file as string | null | undefined) ?? null;

  const exchange = tokenExchange(raw.token_exchange, `${key}.token_exchange`);
  const grant = oneOf(
    raw.grant ?? (exchange ? 'token_exchange' : 'authorization_code'),
    GRANTS,
    `${key}.grant`
  );
  if ((grant === 'token_exchange') !== (exchange !== null)) {
    throw new ConfigError(
      `${key}.token_exchange`,
      grant === 'token_exchange'
        ? 'is required for grant "token_exchange"'
        : 'needs grant "token_exchange"'
    );
  }
  if (grant !== 'authorization_code' && secretFile === null) {
    throw new ConfigError(`${key}.client_secret_file`, `is required for grant "${grant}"`);
  }
  if (kind === 'jupyterhub' && grant !== 'authorization_code') {
    throw new ConfigError(`${key}.grant`, 'must be "authorization_code" for kind "jupyterhub"');
  }
  if (kind === 'jupyterhub' && secretFile === null) {
    throw new ConfigError(`${key}.client_secret_file`, 'is required for kind "jupyterhub"');
  }

  const defaultAuth: ClientAuthMethod =
    secretFile === null
      ? 'none'
      : kind === 'jupyterhub'
        ? 'client_secret_post'
        : 'client_secret_basic';
  const auth = oneOf(
    raw.token_endpoint_auth_method ?? defaultAuth,
    AUTH_METHODS,
    `${key}.token_endpoint_auth_method`
  );
  if ((auth === 'none') !== (secretFile === null)) {
    throw new ConfigError(
      `${key}.token_endpoint_auth_method`,
      secretFile === null
        ? 'must be "none" without client_secret_file'
        : 'must be "client_secret_basic" or "client_secret_post"'
    );
  }

  const scopes = scopeList(raw.scopes, `${key}.scopes`);
  const kindResolved = resolveKind(kind, raw, key, grant);
  // Any kind may name where refresh tokens are revoked; explicit endpoints then use it too.
  const revocation = optionalUrl(raw.revocation_endpoint, `${key}.revocation_endpoint`);
  const resolved =
    revocation === null || kindResolved.endpoints === null
      ? kindResolved
      : {
          ...kindResolved,
          endpoints: { ...kindResolved.endpoints, revocation_endpoint: revocation }
        };
  // Cognito gives each sign-in its own refresh token and revokes only the one asked.
  const revokeReplaced = raw.revoke_replaced_grant ?? (kind === 'cognito' ? true : 'auto');
  if (typeof revokeReplaced !== 'boolean' && revokeReplaced !== 'auto') {
    throw new ConfigError(`${key}.revoke_replaced_grant`, 'must be true, false or "auto"');
  }
  if (resolved.endpoints === null && grant === 'authorization_code' && !scopes.includes('openid')) {
    throw new ConfigError(`${key}.scopes`, 'must include "openid"');
  }
  const params = authorization_params ?? {};
  if (!isObject(params) || Object.values(params).some(v => typeof v !== 'string')) {
    throw new ConfigError(`${key}.authorization_params`, 'must map names to strings');
  }
  if (
    raw.account_claim != null &&
    (typeof raw.account_claim !== 'string' || !CLAIM.test(raw.account_claim))
  ) {
    throw new ConfigError(`${key}.account_claim`, 'must be a claim name');
  }
  const accountClaim =
    (raw.account_claim as string | undefined) ?? (kind === 'jupyterhub' ? 'name' : null);
  const audiences = stringList(raw.audiences, `${key}.audiences`);
  if (exchange?.audience != null && !audiences.includes(exchange.audience)) {
    audiences.push(exchange.audience);
  }
  const narrowing = narrowingOf(kind, grant, raw.narrowing, `${key}.narrowing`);
  const outside = (exchange?.scopes ?? []).filter(s => !scopes.includes(s));
  if (outside.length > 0) {
    throw new ConfigError(`${key}.token_exchange.scopes`, `${outside.join(', ')} not in scopes`);
  }
  const implied =
    raw.implied_scopes != null
      ? scopeList(raw.implied_scopes, `${key}.implied_scopes`)
      : kind === 'jupyterhub'
        ? jupyterhubImpliedScopes(client_id)
        : [];
  return {
    id,
    title: title ?? id,
    kind,
    ...resolved,
    implied_scopes: implied,
    client_id,
    client_secret_file: secretFile,
    token_endpoint_auth_method: auth,
    scopes,
    redirect_uri: optionalUrl(raw.redirect_uri, `${key}.redirect_uri`),
    browser_authorization_endpoint: browserEndpoint(
      raw.browser_authorization_endpoint,
      `${key}.browser_authorization_endpoint`
    ),
    authorization_params: params as Record<string, string>,
    grant,
    audiences,
    revocation_endpoint: revocation,
    revoke_replaced_grant: revokeReplaced,
    narrowing,
    token_exchange: exchange,
    account_claim: accountClaim,
    ...egressOptions(raw, key)
  };
}

/**
 * The `narrowing` of a provider: the kind's default when absent, one the kind accepts when given;
 * null (and refused when given) for grants that keep no refresh token.
 *
 * @throws {@link ConfigError}
 */
function narrowingOf(
  kind: Exclude<ProviderKind, 'hub'>,
  grant: GrantType,
  value: unknown,
  key: string
): NarrowingMethod | null {
  if (grant !== 'authorization_code') {
    if (value == null) return null;
    throw new ConfigError(
      key,
      `applies to sign-ins only (grant "authorization_code"); grant "${grant}" asks each token's scopes itself`
    );
  }
  const allowed = NARROWING_OF_KIND[kind];
  if (value == null) return allowed[0];
  const method = oneOf(value, ANY_NARROWING, key);
  if (!allowed.includes(method)) {
    throw new ConfigError(
      key,
      kind === 'cognito'
        ? 'must be "refuse" for kind "cognito" (its refresh answer names no scope and it has no token exchange)'
        : 'must be "refuse" for kind "jupyterhub" (JupyterHub issues no refresh token)'
    );
  }
  return method;
}

/**
 * What JupyterHub adds to every OAuth token it issues to a service: the scopes that identify the user
 * (`read:users:name!user`, `read:users:groups!user`) and access to the service itself, whose
 * default client id is `service-<name>`.
 */
function jupyterhubImpliedScopes(clientId: string): string[] {
  const implied = ['read:users:name!user', 'read:users:groups!user'];
  if (clientId.startsWith('service-')) {
    implied.push(`access:services!service=${clientId.slice('service-'.length)}`);
  }
  return implied;
}

/**
 * Checks what providers say about each other: a token exchange's subject provider must exist, be
 * another provider, and get its own tokens from a sign-in (no chains of exchanges).
 *
 * @param providers - every resolved provider, in config order
 * @throws {@link ConfigError}
 */
export function checkProviderReferences(providers: readonly ProviderConfig[]): void {
  providers.forEach((p, i) => {
    if (p.token_exchange === null) return;
    const key = `providers[${i}].token_exchange.subject_provider`;
    const label = { label: `provider "${p.id}": token_exchange.subject_provider` };
    const name = p.token_exchange.subject_provider;
    const subject = providers.find(q => q.id === name);
    if (subject === undefined) {
      const hint = didYouMean(
        name,
        providers.map(q => q.id)
      );
      throw new ConfigError(key, `no provider "${name}"${hint}`, label);
    }
    if (subject === p) throw new ConfigError(key, 'must be another provider', label);
    if (subject.kind === 'hub') {
      throw new ConfigError(key, 'must not be a hub provider (not supported yet)', label);
    }
    if (subject.grant === 'token_exchange') {
      throw new ConfigError(key, 'must not itself use token exchange', label);
    }
  });
}
