/**
 * The broker's egress from JupyterLab: which URLs a provider's egress covers (the broker's prefix
 * rule) and the request to `{baseUrl}token-broker/api/v1/egress/{provider}/{scheme}/{authority}{path}`,
 * sent with Jupyter's credentials; the broker adds the bearer token on its side.
 */
import { ServerConnection } from '@jupyterlab/services';

import { EGRESS_ERROR_HEADER } from './contract.generated';
import { TokenBrokerError, TokenBrokerRequestError } from './errors';

/** Where the Jupyter server exposes the egress, relative to the server's base URL. */
const EGRESS_ROUTE = 'token-broker/api/v1/egress/';

/**
 * The caller's own credentials: never sent upstream (the broker adds the token), and Jupyter's
 * credentials take their place on the way to the server.
 */
const NOT_ROUTED = ['authorization', 'proxy-authorization', 'cookie'];

/**
 * Whether an egress prefix covers a URL, by the broker's rule: the same scheme, host and port (a
 * missing port is the scheme's default) and a path that starts with the prefix's path, which ends
 * with `/`.
 *
 * @param prefix - an `egress` entry of the provider, e.g. `https://archive.example.org/tap/`.
 * @param url - the URL to call.
 * @returns `true` when the broker would forward `url` under `prefix`; `false` for a prefix that is
 *   not a URL.
 *
 * @example
 * ```ts
 * egressCovers('https://archive.example.org/tap/', new URL('https://ARCHIVE.example.org:443/tap/sync')); // true
 * egressCovers('https://archive.example.org/tap/', new URL('https://archive.example.org/tapx')); // false
 * ```
 */
export function egressCovers(prefix: string, url: URL): boolean {
  let base: URL;
  try {
    base = new URL(prefix);
  } catch {
    return false;
  }
  // The URL parser lowercases hosts and drops a port that is the scheme's default.
  return (
    base.protocol === url.protocol &&
    base.host === url.host &&
    base.pathname.endsWith('/') &&
    url.pathname.startsWith(base.pathname)
  );
}

/**
 * The egress prefix of a provider that covers a URL, if any.
 *
 * @param prefixes - the provider's `egress` list.
 * @param url - the URL to call.
 * @returns the first covering prefix, or `undefined`.
 *
 * @example
 * ```ts
 * const prefix = egressPrefixFor(provider.egress, new URL(apiUrl));
 * ```
 */
export function egressPrefixFor(prefixes: ReadonlyArray<string>, url: URL): string | undefined {
  return prefixes.find(prefix => egressCovers(prefix, url));
}

/**
 * The egress route on the Jupyter server that the broker forwards to `url`.
 *
 * @param baseUrl - the Jupyter server base URL, e.g. `http://127.0.0.1:8888/user/alice/`.
 * @param providerId - the provider whose token the broker adds.
 * @param url - an absolute `http(s)` URL without user name or password.
 * @returns `{baseUrl}token-broker/api/v1/egress/{provider}/{scheme}/{host[:port]}{path}{?query}`
 *   (no fragment; an IPv6 host in brackets).
 * @throws {TokenBrokerError} `invalid_request` for another scheme or a URL with credentials.
 *
 * @example
 * ```ts
 * egressUrl('http://127.0.0.1:8888/', 'archive', new URL('https://archive.example.org/tap/sync?q=1'));
 * // 'http://127.0.0.1:8888/token-broker/api/v1/egress/archive/https/archive.example.org/tap/sync?q=1'
 * ```
 */
export function egressUrl(baseUrl: string, providerId: string, url: URL): string {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TokenBrokerError(
      'invalid_request',
      `The egress forwards http(s) URLs only, not ${url.protocol} ones.`
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new TokenBrokerError(
      'invalid_request',
      'A URL with user:password@ is not forwarded: the broker adds the credential.'
    );
  }
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const scheme = url.protocol.slice(0, -1);
  return `${base}${EGRESS_ROUTE}${encodeURIComponent(providerId)}/${scheme}/${url.host}${url.pathname}${url.search}`;
}

/**
 * Sends a request through the egress with Jupyter's credentials (`ServerConnection`: its token and
 * XSRF header). The body is read first: browsers stream request bodies only over HTTP/2, and a
 * consent or sign-in may make the caller send it again.
 *
 * @param settings - the Jupyter server connection settings.
 * @param providerId - the provider whose token the broker adds.
 * @param request - the request as the caller made it (its URL is the API's).
 * @param body - the request body, already read (`undefined` for none).
 * @param client - the client label (`X-Token-Broker-Client`).
 * @returns the API's answer as the broker relayed it (its body streamed).
 * @throws {TokenBrokerRequestError} an answer the broker made itself (`X-Token-Broker-Error`:
 *   `egress_not_allowed`, `consent_required`, `login_required`, `upstream_unavailable`…), or
 *   `network_error` when the Jupyter server cannot be reached.
 */
export async function requestEgress(
  settings: ServerConnection.ISettings,
  providerId: string,
  request: Request,
  body: Blob | undefined,
  client: string
): Promise<Response> {
  const headers = new Headers();
  request.headers.forEach((value, name) => {
    if (!NOT_ROUTED.includes(name.toLowerCase())) {
      headers.set(name, value);
    }
  });
  headers.set('X-Token-Broker-Client', client);
  const init: RequestInit = {
    method: request.method,
    headers,
    body,
    // An API's answer must not land in the browser cache under the Jupyter server's URL unless asked.
    cache: request.cache === 'default' ? 'no-store' : request.cache,
    redirect: 'manual',
    signal: request.signal
  };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      egressUrl(settings.baseUrl, providerId, new URL(request.url)),
      init,
      settings
    );
  } catch (error) {
    if (error instanceof TokenBrokerError) {
      throw error;
    }
    throw new TokenBrokerRequestError(0, 'network_error', 'The Jupyter server cannot be reached.', {
      cause: error
    });
  }
  const code = response.headers.get(EGRESS_ERROR_HEADER);
  if (code) {
    throw await brokerError(response, code);
  }
  return response;
}

/** The error of an answer the broker made: its `{error, error_description}`, else the header's code. */
async function brokerError(response: Response, code: string): Promise<TokenBrokerRequestError> {
  let payload: { error?: unknown; error_description?: unknown } = {};
  try {
    payload = (await response.json()) as typeof payload;
  } catch {
    // A gateway failure may come without a body: the header names the code.
  }
  return new TokenBrokerRequestError(
    response.status,
    typeof payload?.error === 'string' ? payload.error : code,
    typeof payload?.error_description === 'string'
      ? payload.error_description
      : `The token broker refused the call (HTTP ${response.status}).`
  );
}
