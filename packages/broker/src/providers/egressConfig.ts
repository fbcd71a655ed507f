/**
 * A provider's egress options: the URL prefixes its tokens may be sent to by the broker's egress
 * (`egress`), and whether its tokens are handed out at all (`expose_token`). The prefixes are parsed
 * once here into the parts the allowlist compares (`egress/allowlist.ts`), so a request is matched
 * against scheme, host, port and path, never against text.
 */
import { ConfigError } from '../configError.js';

/** One `egress` entry, resolved. */
export interface EgressPrefix {
  /** As configured (the provider list shows it). */
  readonly href: string;
  /** `https` or (loopback only) `http`. */
  readonly scheme: 'https' | 'http';
  /** Lower-case host; an IPv6 address in brackets. */
  readonly host: string;
  /** The port, defaulted (443 for https, 80 for http). */
  readonly port: number;
  /** The path prefix: starts and ends with `/`. */
  readonly path: string;
}

/** A provider's egress options. */
export interface EgressOptions {
  /** Where the egress may send the provider's tokens; empty: no egress. */
  readonly egress: readonly EgressPrefix[];
  /** Whether the token route hands out the provider's tokens (false needs a non-empty egress). */
  readonly expose_token: boolean;
}

/** Hosts `http://` is accepted for (tests and local services). */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The default port of a scheme. */
export function defaultPort(scheme: 'https' | 'http'): number {
  return scheme === 'https' ? 443 : 80;
}

/**
 * Parses one `egress` entry: an absolute `https://host[:port]/path/` URL whose path ends with `/`,
 * without userinfo, query, fragment, dot segments or encoded `.`, `/`, `\`; `http://` only for a
 * loopback host.
 *
 * @param value - the configured entry
 * @param key - its path, `providers[i].egress[j]`, for the message
 * @returns the resolved prefix
 * @throws {@link ConfigError} naming `key`
 * @example
 * ```ts
 * egressPrefix('https://archive.example.org/tap/', 'providers[0].egress[0]');
 * // { href: 'https://archive.example.org/tap/', scheme: 'https', host: 'archive.example.org', port: 443, path: '/tap/' }
 * ```
 */
export function egressPrefix(value: unknown, key: string): EgressPrefix {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(key, 'must be a URL prefix string, e.g. "https://api.example.org/v1/"');
  }
  if (/[\s\\]/.test(value) || /%(2e|2f|5c)/i.test(value)) {
    throw new ConfigError(key, 'must not hold spaces, backslashes or encoded ".", "/" or "\\"');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'is not a valid absolute URL');
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'https' && scheme !== 'http') {
    throw new ConfigError(key, 'must be an https URL (http only for 127.0.0.1, ::1 or localhost)');
  }
  if (scheme === 'http' && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError(key, 'must be https (http only for 127.0.0.1, ::1 or localhost)');
  }
  const written = value.slice(value.indexOf('//') + 2);
  const slash = written.indexOf('/');
  const authority = slash < 0 ? written : written.slice(0, slash);
  if (url.username !== '' || url.password !== '' || authority.includes('@')) {
    throw new ConfigError(key, 'must not carry credentials (userinfo)');
  }
  if (value.includes('?') || value.includes('#')) {
    throw new ConfigError(key, 'must have no query or fragment');
  }
  // `new URL` removes dot segments: what is left must be what was written.
  const writtenPath = slash < 0 ? '' : written.slice(slash);
  if (writtenPath !== url.pathname) {
    throw new ConfigError(
      key,
      'must have a plain path (no "." or ".." segments, only URL characters)'
    );
  }
  if (!url.pathname.endsWith('/')) {
    throw new ConfigError(
      key,
      `must end with "/" (a path prefix: "${value}/" allows that folder and below)`
    );
  }
  return {
    href: value,
    scheme,
    host: url.hostname.toLowerCase(),
    port: url.port === '' ? defaultPort(scheme) : Number(url.port),
    path: url.pathname
  };
}

/**
 * Checks a provider's `egress` and `expose_token` options.
 *
 * @param raw - the provider entry as parsed
 * @param key - its path, `providers[i]`
 * @returns the resolved options (defaults: no egress, tokens exposed)
 * @throws {@link ConfigError} naming the bad key (`providers[i].egress[j]`, `providers[i].expose_token`)
 */
export function egressOptions(raw: Record<string, unknown>, key: string): EgressOptions {
  const list = raw.egress ?? [];
  if (!Array.isArray(list)) {
    throw new ConfigError(`${key}.egress`, 'must be a list of URL prefixes');
  }
  const egress = list.map((entry, j) => egressPrefix(entry, `${key}.egress[${j}]`));
  const expose = raw.expose_token ?? true;
  if (typeof expose !== 'boolean') {
    throw new ConfigError(`${key}.expose_token`, 'must be true or false');
  }
  if (!expose && egress.length === 0) {
    throw new ConfigError(
      `${key}.expose_token`,
      'false needs an egress: without one the provider could not be used at all'
    );
  }
  return { egress, expose_token: expose };
}
