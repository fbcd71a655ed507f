/**
 * CORS of the demo API: JupyterLab plugins call it from the browser, from JupyterLab's origin, with
 * `Authorization: Bearer …`. Only listed origins are allowed, and never with credentials (cookies): the
 * token in the header is the only credential, so a page from any other origin cannot use the API as the person.
 */

/** Response headers a browser must also let the page read. */
const EXPOSED_HEADERS = 'WWW-Authenticate';

/** How long (s) a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE = 600;

/**
 * Whether a request is a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`).
 *
 * @param {import('node:http').IncomingMessage} req - the request.
 * @returns {boolean} true for a preflight.
 */
export function isPreflight(req) {
  return req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] === 'string';
}

/**
 * The CORS headers of an actual response.
 *
 * @param {string | undefined} origin - the request's `Origin` header.
 * @param {ReadonlySet<string>} allowed - the allowed origins.
 * @returns {Record<string, string>} `Access-Control-Allow-Origin` (and friends) for an allowed origin; else
 *   only `Vary: Origin`, so the browser refuses to hand the answer to the page.
 * @example
 * corsHeaders('http://127.0.0.1:8888', new Set(['http://127.0.0.1:8888']));
 * // { Vary: 'Origin', 'Access-Control-Allow-Origin': 'http://127.0.0.1:8888', … }
 */
export function corsHeaders(origin, allowed) {
  if (origin === undefined || !allowed.has(origin)) {
    return { Vary: 'Origin' };
  }
  return {
    Vary: 'Origin',
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Expose-Headers': EXPOSED_HEADERS
  };
}

/**
 * The answer to a preflight: GET with an `Authorization` header, from an allowed origin.
 *
 * @param {string | undefined} origin - the request's `Origin` header.
 * @param {ReadonlySet<string>} allowed - the allowed origins.
 * @returns {Record<string, string> | null} the headers of a 204, or null to refuse (403).
 */
export function preflightHeaders(origin, allowed) {
  if (origin === undefined || !allowed.has(origin)) {
    return null;
  }
  return {
    ...corsHeaders(origin, allowed),
    'Access-Control-Allow-Methods': 'GET',
    'Access-Control-Allow-Headers': 'Authorization',
    'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE)
  };
}
