/**
 * Which headers cross the egress, each way. Toward the upstream only an allowlist passes (the
 * caller's own `Authorization`, cookies and Jupyter's headers never do), with the broker's
 * `Authorization` and `User-Agent`. Back to the caller the upstream's headers pass less the
 * hop-by-hop ones and those that would act on Jupyter's origin (cookies, HSTS, Clear-Site-Data,
 * CORS grants), with a sandboxing CSP added: the answer is served from Jupyter's origin.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

import { EGRESS_ERROR_HEADER, EGRESS_REQUEST_HEADERS } from '../contract.generated.js';
import { VERSION } from '../version.js';

/** The request headers passed on (from `openapi.yaml`'s `EgressRequestHeader`). */
const FORWARDED: ReadonlySet<string> = new Set(EGRESS_REQUEST_HEADERS);

/** `User-Agent` of every egress call. */
export const EGRESS_USER_AGENT = `jupyter-token-broker/${VERSION}`;

/** Hop-by-hop headers (RFC 9110 §7.6.1), never relayed. */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
]);

/**
 * Response headers that would act on Jupyter's origin rather than describe the answer: cookies
 * (they would be set for Jupyter), HSTS and Alt-Svc for Jupyter's host, Clear-Site-Data (it could
 * end the Jupyter session), a service worker's scope, CORS grants (no other origin may read the
 * answer through Jupyter), and the broker's own error header (an upstream cannot pass for the broker).
 */
const ORIGIN_WIDE: ReadonlySet<string> = new Set([
  'set-cookie',
  'set-cookie2',
  'strict-transport-security',
  'clear-site-data',
  'alt-svc',
  'service-worker-allowed',
  EGRESS_ERROR_HEADER.toLowerCase()
]);

/**
 * The headers an egress call sends upstream: the allowlisted ones of the caller, the broker's
 * bearer token and its `User-Agent`.
 *
 * @param incoming - the caller's request headers
 * @param accessToken - the provider's access token
 * @returns the upstream request's headers
 * @example
 * ```ts
 * upstreamRequestHeaders({ accept: 'application/json', cookie: 'x' }, token);
 * // { accept: 'application/json', authorization: 'Bearer …', 'user-agent': 'jupyter-token-broker/0.1.0' }
 * ```
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  accessToken: string
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && FORWARDED.has(name)) out[name] = value;
  }
  out.authorization = `Bearer ${accessToken}`;
  out['user-agent'] = EGRESS_USER_AGENT;
  return out;
}

/**
 * The headers of an upstream's answer as the caller gets them.
 *
 * @param upstream - the upstream answer's headers (node's lower-case names)
 * @returns the headers to answer with: hop-by-hop (and those `Connection` names), `Proxy-*` and
 *   {@link ORIGIN_WIDE} ones dropped; `Content-Security-Policy: sandbox` added to the upstream's
 *   own policies, `X-Content-Type-Options: nosniff` set
 */
export function callerResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(upstream.connection ?? '')
      .split(',')
      .map(token => token.trim().toLowerCase())
      .filter(token => token !== '')
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || named.has(name) || ORIGIN_WIDE.has(name)) continue;
    if (name.startsWith('proxy-') || name.startsWith('access-control-')) continue;
    out[name] = value;
  }
  // Comma-separated policies all apply: the upstream's stay and the sandbox is added (an HTML answer
  // opened in a tab gets an opaque origin: its scripts cannot reach Jupyter's).
  const policies = upstream['content-security-policy'];
  out['content-security-policy'] = policies === undefined ? 'sandbox' : `${policies}, sandbox`;
  out['x-content-type-options'] = 'nosniff';
  return out;
}
