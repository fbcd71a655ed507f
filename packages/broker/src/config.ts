/**
 * The broker's typed configuration: the defaults in one object (each option with a one-line
 * description), a validation step that names the bad key, and the loader (which refuses files others
 * can read: `secretFile.ts`). The file shape is the contract in docs/architecture.md ("Config file").
 */
import { type AuditConfig, AUDIT_DEFAULTS, validateAuditConfig } from './audit.js';
import { ConfigError, didYouMean } from './configError.js';
import { MAX_MIN_TTL } from './contract.generated.js';
import {
  checkProviderReferences,
  PROVIDER_ID,
  type ProviderConfig,
  validateProvider
} from './providers/providerConfig.js';
import { readSecretFile } from './secretFile.js';
import { type StoreConfig, validateStoreConfig } from './stores/storeConfig.js';

export { ConfigError, PROVIDER_ID, type ProviderConfig, type StoreConfig };

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
  readonly egress_timeout_ms: number;
  readonly egress_idle_timeout_ms: number;
  readonly egress_max_request_bytes: number;
  readonly egress_max_response_bytes: number;
}

type Options = Omit<BrokerConfig, 'providers'>;

/** Defaults of every top-level option. */
export const defaults: Readonly<Options> = {
  /** Where grants are kept. */
  store: { type: 'memory' },
  /** Refresh an access token when it has fewer than this many seconds left (at most half its lifetime). */
  refresh_margin_seconds: 30,
  /** Seconds a token handed out must still be valid when the caller says none (at most half its lifetime). */
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
  clock_tolerance_seconds: 300,
  /** Deadline of an egress call's connection and the upstream's answer head, in milliseconds. */
  egress_timeout_ms: 30000,
  /** An egress call with no byte either way for this many milliseconds is ended. */
  egress_idle_timeout_ms: 60000,
  /** The largest egress request body in bytes (larger: 413). */
  egress_max_request_bytes: 4294967296,
  /** The largest egress response body in bytes (larger: cut and logged). */
  egress_max_response_bytes: 4294967296
};

/** How {@link OPTIONS} describes one top-level option. */
export interface OptionDoc {
  /** One line: what the option does. */
  readonly description: string;
  /** Its JSON type. */
  readonly type: 'integer' | 'object' | 'list';
  /** The smallest value an integer option accepts. */
  readonly minimum?: number;
  /** The largest value an integer option accepts. */
  readonly maximum?: number;
}

/**
 * Every top-level option of the config file, described: `validateConfig` checks each integer against
 * its range, `token-broker options` prints the table, and the Jupyter server extension offers each one
 * as `c.TokenBroker.<name>` (its pytest fails when one is missing there). A new option of
 * {@link BrokerConfig} does not compile without its line here.
 */
export const OPTIONS: { readonly [K in keyof BrokerConfig]: OptionDoc } = {
  providers: {
    description: 'The identity providers (docs/architecture.md, "Config file")',
    type: 'list'
  },
  store: {
    description: "Where grants are kept: {type: 'memory' | 'file' | 'keyring', ...}",
    type: 'object'
  },
  refresh_margin_seconds: {
    description:
      'Refresh an access token when it has fewer than this many seconds left (at most half its lifetime)',
    type: 'integer',
    minimum: 0,
    maximum: 3600
  },
  default_min_ttl: {
    description:
      'Seconds a handed-out token must still be valid for when the caller does not say (at most half its lifetime)',
    type: 'integer',
    minimum: 0,
    maximum: MAX_MIN_TTL
  },
  login_state_ttl_seconds: {
    description: 'Seconds a started sign-in may take before its login state expires',
    type: 'integer',
    minimum: 10,
    maximum: 3600
  },
  upstream_timeout_ms: {
    description: 'Deadline of every call to an identity provider, in milliseconds',
    type: 'integer',
    minimum: 100,
    maximum: 120000
  },
  audit: {
    description: 'The audit trail: {path (null: memory only), max_bytes, keep}',
    type: 'object'
  },
  consent_session_seconds: {
    description: 'Seconds a plugin consent given "for this session" (allow) lasts',
    type: 'integer',
    minimum: 60,
    maximum: 7 * 86400
  },
  clock_tolerance_seconds: {
    description:
      'Seconds of clock difference tolerated with identity providers when checking JWT times',
    type: 'integer',
    minimum: 0,
    maximum: 3600
  },
  egress_timeout_ms: {
    description:
      "Deadline of an egress call's connection and the upstream's answer head, in milliseconds",
    type: 'integer',
    minimum: 100,
    maximum: 600000
  },
  egress_idle_timeout_ms: {
    description: 'An egress call with no byte either way for this many milliseconds is ended',
    type: 'integer',
    minimum: 100,
    maximum: 3600000
  },
  egress_max_request_bytes: {
    description: 'The largest egress request body in bytes (larger: 413 payload_too_large)',
    type: 'integer',
    minimum: 0,
    maximum: 1099511627776
  },
  egress_max_response_bytes: {
    description: 'The largest egress response body in bytes (larger: cut off and logged)',
    type: 'integer',
    minimum: 0,
    maximum: 1099511627776
  }
};

const TOP_KEYS = new Set(Object.keys(OPTIONS));

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An integer option: the file's value or the default, within its {@link OPTIONS} range. */
function int(raw: Record<string, unknown>, key: keyof Options): number {
  const v = raw[key] ?? defaults[key];
  const { minimum: min = 0, maximum: max = Number.MAX_SAFE_INTEGER } = OPTIONS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(key, `must be an integer from ${min} to ${max}`);
  }
  return v;
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
    if (!TOP_KEYS.has(k)) {
      throw new ConfigError(k, `is not a known option${didYouMean(k, TOP_KEYS)}`);
    }
  }
  if (!Array.isArray(raw.providers)) throw new ConfigError('providers', 'must be a list');
  const providers = raw.providers.map((p, i) => validateProvider(p, `providers[${i}]`));
  const seen = new Map<string, number>();
  providers.forEach((p, i) => {
    const first = seen.get(p.id);
    if (first !== undefined) {
      throw new ConfigError(
        `providers[${i}].id`,
        `"${p.id}" is also the id of providers[${first}]`
      );
    }
    seen.set(p.id, i);
  });
  checkProviderReferences(providers);
  const store = validateStoreConfig(raw.store ?? defaults.store, (key, problem) => {
    throw new ConfigError(key, problem);
  });
  return {
    providers,
    store,
    refresh_margin_seconds: int(raw, 'refresh_margin_seconds'),
    default_min_ttl: int(raw, 'default_min_ttl'),
    login_state_ttl_seconds: int(raw, 'login_state_ttl_seconds'),
    upstream_timeout_ms: int(raw, 'upstream_timeout_ms'),
    audit: validateAuditConfig(raw.audit, (key, problem) => {
      throw new ConfigError(key, problem);
    }),
    consent_session_seconds: int(raw, 'consent_session_seconds'),
    clock_tolerance_seconds: int(raw, 'clock_tolerance_seconds'),
    egress_timeout_ms: int(raw, 'egress_timeout_ms'),
    egress_idle_timeout_ms: int(raw, 'egress_idle_timeout_ms'),
    egress_max_request_bytes: int(raw, 'egress_max_request_bytes'),
    egress_max_response_bytes: int(raw, 'egress_max_response_bytes')
  };
}

/**
 * Loads, checks and validates the config file.
 *
 * @param path - the JSON file
 * @returns the configuration
 * @throws {@link ConfigError}
 */
export async function loadConfig(path: string): Promise<BrokerConfig> {
  const text = await readSecretFile(path, 'config file');
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
  const key = (await readSecretFile(path, 'key file')).trim();
  if (key.length < 32 || /\s/.test(key)) {
    throw new ConfigError('key file', 'must hold one line of at least 32 characters');
  }
  return key;
}
