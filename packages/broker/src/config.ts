/**
 * The broker's typed configuration: the defaults in one object (each option with a one-line
 * description), a validation step that names the bad key, and the loader that refuses files others
 * can read. The file shape is the contract in docs/architecture.md ("Config file").
 */
import { readFile, stat } from 'node:fs/promises';

import { type AuditConfig, AUDIT_DEFAULTS, validateAuditConfig } from './audit.js';

import { type StoreConfig, validateStoreConfig } from './stores/storeConfig.js';

/** Provider ids: lower-case ASCII, digits, `_` and `-`; never `.`, `/` or NUL. */
export const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** One identity provider the broker can get tokens from. */
export interface ProviderConfig {
  /** Stable id used in URLs. */
  readonly id: string;
  /** Human-readable name for the panel. */
  readonly title: string;
  /** Grant source; only `oidc` (authorization code + refresh) in v1. */
  readonly kind: 'oidc';
  /** Issuer URL; discovery reads `{issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** OAuth client id registered at the IdP. */
  readonly client_id: string;
  /** Path of a 0600 file holding the client secret; null for a public client with PKCE. */
  readonly client_secret_file: string | null;
  /** The allowed scopes and the default set asked at login. */
  readonly scopes: readonly string[];
  /** Exact redirect URI; null means the one the server extension sends per login. */
  readonly redirect_uri: string | null;
  /** Extra authorization request parameters (e.g. `audience`, `prompt`). */
  readonly authorization_params: Readonly<Record<string, string>>;
}

/** Where grants are kept: `memory`, `file` or `keyring` (shapes and checks in `stores/storeConfig.ts`). */
export type { StoreConfig } from './stores/storeConfig.js';

/** The whole configuration. */
export interface BrokerConfig {
  readonly providers: readonly ProviderConfig[];
  readonly store: StoreConfig;
  readonly refresh_margin_seconds: number;
  readonly default_min_ttl: number;
  readonly login_state_ttl_seconds: number;
  readonly upstream_timeout_ms: number;
  readonly audit: AuditConfig;
  readonly consent_session_seconds: number;
  readonly clock_tolerance_seconds: number;
}

type Options = Omit<BrokerConfig, 'providers'>;

/** Defaults of every top-level option. */
export const defaults: Readonly<Options> = {
  /** Where grants are kept. */
  store: { type: 'memory' },
  /** Refresh an access token when it has fewer than this many seconds left. */
  refresh_margin_seconds: 30,
  /** Seconds a handed-out token must still be valid for when the caller does not say. */
  default_min_ttl: 30,
  /** Seconds a started login may take before its state expires. */
  login_state_ttl_seconds: 600,
  /** Deadline of every call to an identity provider, in milliseconds. */
  upstream_timeout_ms: 10000,
  /** The audit trail's file (null: memory only), its rotation size and the rotated files kept. */
  audit: AUDIT_DEFAULTS,
  /** Seconds a plugin consent given "for this session" (`allow`) lasts. */
  consent_session_seconds: 28800,
  /** Seconds of clock difference tolerated with identity providers when checking JWT times. */
  clock_tolerance_seconds: 300
};

/** A configuration problem; the message names the key. */
export class ConfigError extends Error {
  /** @param key - dotted path of the bad key, e.g. `providers[0].issuer` */
  constructor(
    readonly key: string,
    problem: string
  ) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const PROVIDER_KEYS = new Set([
  'id',
  'title',
  'kind',
  'issuer',
  'client_id',
  'client_secret_file',
  'scopes',
  'redirect_uri',
  'authorization_params'
]);
const TOP_KEYS = new Set(['providers', ...Object.keys(defaults)]);
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(raw: Record<string, unknown>, key: keyof Options, min: number, max: number): number {
  const v = raw[key] ?? defaults[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(key, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

function httpUrl(value: unknown, key: string): string {
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
  return value;
}

function validateProvider(raw: unknown, key: string): ProviderConfig {
  if (!isObject(raw)) throw new ConfigError(key, 'must be an object');
  for (const k of Object.keys(raw)) {
    if (!PROVIDER_KEYS.has(k)) throw new ConfigError(`${key}.${k}`, 'is not a known option');
  }
  const { id, title, kind, client_id, client_secret_file, scopes, authorization_params } = raw;
  if (typeof id !== 'string' || !PROVIDER_ID.test(id)) {
    throw new ConfigError(`${key}.id`, `must match ${PROVIDER_ID.source}`);
  }
  if (title !== undefined && typeof title !== 'string') {
    throw new ConfigError(`${key}.title`, 'must be a string');
  }
  if ((kind ?? 'oidc') !== 'oidc') throw new ConfigError(`${key}.kind`, 'must be "oidc"');
  if (typeof client_id !== 'string' || client_id === '') {
    throw new ConfigError(`${key}.client_id`, 'must be a non-empty string');
  }
  if (client_secret_file != null && typeof client_secret_file !== 'string') {
    throw new ConfigError(`${key}.client_secret_file`, 'must be a path or null');
  }
  if (!Array.isArray(scopes) || scopes.some(s => typeof s !== 'string' || !SCOPE.test(s))) {
    throw new ConfigError(`${key}.scopes`, 'must be a list of scope strings');
  }
  if (!scopes.includes('openid')) throw new ConfigError(`${key}.scopes`, 'must include "openid"');
  const params = authorization_params ?? {};
  if (!isObject(params) || Object.values(params).some(v => typeof v !== 'string')) {
    throw new ConfigError(`${key}.authorization_params`, 'must map names to strings');
  }
  return {
    id,
    title: title ?? id,
    kind: 'oidc',
    issuer: httpUrl(raw.issuer, `${key}.issuer`),
    client_id,
    client_secret_file: (client_secret_file as string | null | undefined) ?? null,
    scopes: [...new Set(scopes as string[])],
    redirect_uri:
      raw.redirect_uri == null ? null : httpUrl(raw.redirect_uri, `${key}.redirect_uri`),
    authorization_params: params as Record<string, string>
  };
}

/**
 * Checks a parsed config file and fills in the defaults.
 *
 * @param raw - the parsed JSON
 * @returns the typed configuration
 * @throws {@link ConfigError} naming the first bad key
 */
export function validateConfig(raw: unknown): BrokerConfig {
  if (!isObject(raw)) throw new ConfigError('(root)', 'must be a JSON object');
  for (const k of Object.keys(raw)) {
    if (!TOP_KEYS.has(k)) throw new ConfigError(k, 'is not a known option');
  }
  if (!Array.isArray(raw.providers)) throw new ConfigError('providers', 'must be a list');
  const providers = raw.providers.map((p, i) => validateProvider(p, `providers[${i}]`));
  const seen = new Set<string>();
  providers.forEach((p, i) => {
    if (seen.has(p.id)) throw new ConfigError(`providers[${i}].id`, `duplicate id '${p.id}'`);
    seen.add(p.id);
  });
  const store = validateStoreConfig(raw.store ?? defaults.store, (key, problem) => {
    throw new ConfigError(key, problem);
  });
  return {
    providers,
    store,
    refresh_margin_seconds: int(raw, 'refresh_margin_seconds', 0, 3600),
    default_min_ttl: int(raw, 'default_min_ttl', 0, 86400),
    login_state_ttl_seconds: int(raw, 'login_state_ttl_seconds', 10, 3600),
    upstream_timeout_ms: int(raw, 'upstream_timeout_ms', 100, 120000),
    audit: validateAuditConfig(raw.audit, (key, problem) => {
      throw new ConfigError(key, problem);
    }),
    consent_session_seconds: int(raw, 'consent_session_seconds', 60, 7 * 86400),
    clock_tolerance_seconds: int(raw, 'clock_tolerance_seconds', 0, 3600)
  };
}

/**
 * Reads a file that may hold secrets, refusing it when group or others can read it.
 *
 * @param path - the file
 * @param what - its role, for the message (`key file`, `config file`)
 * @returns the file's text
 * @throws {@link ConfigError} when it is missing, not a regular file or too open
 */
export async function readPrivateFile(path: string, what: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new ConfigError(what, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!info.isFile()) throw new ConfigError(what, `${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(
      what,
      `${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`
    );
  }
  return readFile(path, 'utf8');
}

/**
 * Loads, checks and validates the config file.
 *
 * @param path - the JSON file
 * @returns the configuration
 * @throws {@link ConfigError}
 */
export async function loadConfig(path: string): Promise<BrokerConfig> {
  const text = await readPrivateFile(path, 'config file');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('(root)', `not valid JSON: ${(err as Error).message}`);
  }
  return validateConfig(raw);
}

/**
 * Reads the shared broker key (one line, at least 32 characters).
 *
 * @param path - the key file
 * @returns the key
 * @throws {@link ConfigError}
 */
export async function loadKey(path: string): Promise<string> {
  const key = (await readPrivateFile(path, 'key file')).trim();
  if (key.length < 32 || /\s/.test(key)) {
    throw new ConfigError('key file', 'must hold one line of at least 32 characters');
  }
  return key;
}
