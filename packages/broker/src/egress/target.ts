/**
 * The target of an egress call, read from the request path
 * `/api/v1/egress/{provider}/{scheme}/{authority}/{path...}?{query}`. Every trick that could make
 * the upstream see another path than the allowlist compared (dot segments, encoded `.`, `/` or `\`,
 * a backslash, userinfo) is refused here, before the allowlist and before any token is fetched.
 */
import { InvalidRequest } from '../errors.js';
import { defaultPort } from '../providers/egressConfig.js';

/** Where an egress call goes. */
export interface EgressTarget {
  readonly scheme: 'https' | 'http';
  /** Lower-case host; an IPv6 address in brackets. */
  readonly host: string;
  /** The port, defaulted (443 for https, 80 for http). */
  readonly port: number;
  /** The path as sent (still percent-encoded), starting with `/`. */
  readonly path: string;
  /** `?` and the query as sent, or empty. */
  readonly query: string;
  /** `scheme://host[:port]`, the port only when not the default. */
  readonly origin: string;
}

/** A host name or an IPv4 address, or an IPv6 address in brackets; an optional port. */
const AUTHORITY = /^(?<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?<port>\d{1,5}))?$/;
/** Percent-encoded `.`, `/` and `\`, which an upstream may decode into a path other than the one compared. */
const ENCODED_SEPARATOR = /%(2e|2f|5c)/i;
/** A `%` not followed by two hex digits. */
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * Whether a path segment is a dot segment, also with `;` parameters (`..;x`: some servers, Tomcat
 * among them, read it as `..`).
 *
 * @param segment - one segment of a path, as sent
 * @returns true for `.`, `..`, `.;…` and `..;…`
 */
export function isDotSegment(segment: string): boolean {
  const bare = segment.split(';', 1)[0];
  return bare === '.' || bare === '..';
}

/**
 * Reads an egress target from the parts of the request path.
 *
 * @param scheme - the `{scheme}` segment
 * @param authority - the `{authority}` segment (`host[:port]`; an IPv6 host's brackets may be sent
 *   as `%5B`/`%5D`)
 * @param rest - everything after the authority's `/`, as sent (may be empty)
 * @param query - the request's query with its `?`, or empty
 * @returns the target
 * @throws {@link InvalidRequest} for another scheme, a bad authority, userinfo, a backslash, a dot
 *   segment, an encoded `.`, `/` or `\`, or a malformed `%` escape
 * @example
 * ```ts
 * parseTarget('https', 'Archive.example.org', 'tap/sync', '?q=1');
 * // { scheme: 'https', host: 'archive.example.org', port: 443, path: '/tap/sync', query: '?q=1', origin: 'https://archive.example.org' }
 * ```
 */
export function parseTarget(
  scheme: string,
  authority: string,
  rest: string,
  query: string
): EgressTarget {
  if (scheme !== 'https' && scheme !== 'http') {
    throw new InvalidRequest(
      'The egress target must be https (or http), e.g. egress/{provider}/https/host/path.'
    );
  }
  // An IPv6 host's brackets arrive percent-encoded from some clients (urllib3 encodes them in the
  // request path); nothing else in an authority may be encoded (the pattern below refuses any `%`).
  authority = authority.replace(/%5b/gi, '[').replace(/%5d/gi, ']');
  if (authority.includes('@')) {
    throw new InvalidRequest('The egress target must not carry credentials (userinfo).');
  }
  const match = AUTHORITY.exec(authority);
  const port = match?.groups?.port === undefined ? defaultPort(scheme) : Number(match.groups.port);
  if (match === null || port < 1 || port > 65535) {
    throw new InvalidRequest('The egress target has no valid host[:port].');
  }
  if (rest.includes('\\') || query.includes('\\')) {
    throw new InvalidRequest('The egress target must not hold a backslash.');
  }
  if (ENCODED_SEPARATOR.test(rest)) {
    throw new InvalidRequest(
      'The egress target must not hold an encoded ".", "/" or "\\" in its path.'
    );
  }
  if (BAD_PERCENT.test(rest)) {
    throw new InvalidRequest('The egress target path has a malformed % escape.');
  }
  if (rest.split('/').some(isDotSegment)) {
    throw new InvalidRequest('The egress target must not hold "." or ".." path segments.');
  }
  const host = match.groups!.host.toLowerCase();
  return {
    scheme,
    host,
    port,
    path: `/${rest}`,
    query,
    origin: `${scheme}://${host}${port === defaultPort(scheme) ? '' : `:${port}`}`
  };
}
