/**
 * The one function that talks to the token broker HTTP API through the Jupyter server.
 */
import { ServerConnection } from '@jupyterlab/services';

import { TokenBrokerRequestError } from './errors';
import { FIRST_PARTY_CLIENT } from './tokens';

/** Where the Jupyter server exposes the broker, relative to the server's base URL. */
const API_PREFIX = 'token-broker/api/v1/';

/**
 * A request to the broker API.
 */
export interface IBrokerRequest {
  /** HTTP method; `GET` when omitted. */
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** A JSON body (sent as `application/json`). */
  readonly body?: unknown;
  /**
   * The client label (`X-Token-Broker-Client`): a plugin id, or `jupyterlab` (the default) for
   * JupyterLab's own calls. The server extension turns it into the broker's trusted client label.
   */
  readonly client?: string;
}

/**
 * Calls the token broker API at `{baseUrl}token-broker/api/v1/{path}`.
 *
 * `ServerConnection.makeRequest` adds Jupyter's authentication and XSRF header, so state-changing
 * calls pass Jupyter's XSRF check. The answer is never cached (`cache: 'no-store'`).
 *
 * @param path - path below `api/v1/` with its query, already URL-encoded, e.g. `providers/demo/token`.
 * @param request - method and JSON body.
 * @param settings - the Jupyter server connection settings (`app.serviceManager.serverSettings`).
 * @returns the parsed JSON answer, or `undefined` for `204 No Content`.
 * @throws {TokenBrokerRequestError} with the broker's `error` code and `error_description`, or
 *   `network_error` (status 0) / `invalid_response` when no usable answer arrived.
 *
 * @example
 * ```ts
 * const { providers } = await requestBroker<{ providers: unknown[] }>('providers', {}, settings);
 * ```
 */
export async function requestBroker<T>(
  path: string,
  request: IBrokerRequest,
  settings: ServerConnection.ISettings
): Promise<T> {
  const init: RequestInit = {
    method: request.method ?? 'GET',
    cache: 'no-store',
    headers: {
      Accept: 'application/json',
      'X-Token-Broker-Client': request.client ?? FIRST_PARTY_CLIENT,
      ...(request.body === undefined ? {} : { 'Content-Type': 'application/json' })
    },
    body: request.body === undefined ? undefined : JSON.stringify(request.body)
  };

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      brokerUrl(settings.baseUrl, path),
      init,
      settings
    );
  } catch (error) {
    throw new TokenBrokerRequestError(0, 'network_error', 'The Jupyter server cannot be reached.', {
      cause: error
    });
  }

  if (response.status === 204) {
    return undefined as T;
  }
  const payload = await readJson(response);
  if (!response.ok) {
    throw errorFromAnswer(response.status, payload);
  }
  if (payload === undefined) {
    throw new TokenBrokerRequestError(
      response.status,
      'invalid_response',
      'The token broker answered something that is not JSON.'
    );
  }
  return payload as T;
}

/**
 * Joins the server's base URL and an API path.
 *
 * @param baseUrl - the Jupyter server base URL, e.g. `http://127.0.0.1:8888/user/alice/`.
 * @param path - path below `api/v1/`.
 * @returns the absolute URL.
 */
function brokerUrl(baseUrl: string, path: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return `${base}${API_PREFIX}${path}`;
}

/**
 * Reads a JSON body, or `undefined` when there is none or it is not JSON (Jupyter's own error
 * pages are HTML).
 */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Turns an error answer into a typed error: the broker's `{error, error_description}` when present,
 * else Jupyter's `{message}`, else a code derived from the status.
 */
function errorFromAnswer(status: number, payload: unknown): TokenBrokerRequestError {
  const body = isRecord(payload) ? payload : {};
  const code = typeof body.error === 'string' ? body.error : codeForStatus(status);
  const description =
    typeof body.error_description === 'string'
      ? body.error_description
      : typeof body.message === 'string'
        ? body.message
        : `The token broker answered HTTP ${status}.`;
  return new TokenBrokerRequestError(status, code, description);
}

/** The broker's code for a status, for answers that carry none (e.g. from Jupyter itself). */
function codeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 503:
      return 'upstream_unavailable';
    default:
      return status >= 500 ? 'server_error' : 'invalid_request';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
