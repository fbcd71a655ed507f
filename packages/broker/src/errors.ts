/**
 * The closed set of errors the broker answers with. Every failure a caller can see is a
 * {@link BrokerError} with a stable `code`, which sets its HTTP status ({@link ERROR_STATUS});
 * callers branch on `code`, never on the description text. Failures are translated into these once,
 * at the boundary where they happen, keeping the original as `cause` for the log: openid-client's
 * errors in `providers/translate.ts`, network failures and 5xx answers of an IdP in
 * `providers/upstream.ts`, a store's failures in the store itself (`StoreUnavailable`, and the file
 * store's `StoreRolledBack` in `stores/highWater.ts`). The one
 * writer of error answers is `middleware.ts` (`sendError`).
 */

/** Every error code the broker can put in an `{error}` body. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'login_required'
  | 'scope_not_allowed'
  | 'consent_required'
  | 'consent_denied'
  | 'forbidden'
  | 'unknown_provider'
  | 'not_found'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'store_unavailable'
  | 'store_rolled_back'
  | 'config_error'
  | 'server_error'
  | 'egress_not_allowed'
  | 'token_not_exposed';

/** The status each code is answered with. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_request: 400,
  unauthorized: 401,
  login_required: 401,
  scope_not_allowed: 403,
  consent_required: 403,
  consent_denied: 403,
  forbidden: 403,
  unknown_provider: 404,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upstream_error: 502,
  upstream_unavailable: 503,
  store_unavailable: 503,
  store_rolled_back: 503,
  config_error: 503,
  server_error: 500,
  egress_not_allowed: 403,
  token_not_exposed: 403
};

/** Options of a {@link BrokerError}. */
export interface BrokerErrorOptions {
  /** The underlying error, for the log only. */
  cause?: unknown;
  /** Seconds after which a retry may succeed; sent as `Retry-After` on 503. */
  retryAfter?: number;
  /**
   * The answer repeats a failure already logged (a refusal during a backoff): the caller gets the
   * same answer, the log only a debug line and a periodic count (`middleware.ts`), not an error a
   * request.
   */
  repeat?: boolean;
  /**
   * An egress call's gateway failure (`upstream_unavailable` only): answered 502 (the upstream
   * unreachable or reset) or 504 (it did not answer in time) instead of the code's 503, as an HTTP
   * gateway says it; the code stays the same.
   */
  gateway?: 502 | 504;
}

/**
 * Base of every error the broker answers with. The code implies the status ({@link ERROR_STATUS}), so
 * the two cannot disagree.
 *
 * @example
 * ```ts
 * throw new BrokerError('unknown_provider', "No provider 'x' is configured.");
 * ```
 */
export class BrokerError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable error code. */
  readonly code: ErrorCode;
  /** Whether the description may be shown to the caller (status < 500 or a documented 5xx). */
  readonly expose: boolean;
  /** Seconds for `Retry-After`, if any. */
  readonly retryAfter: number | undefined;
  /** Whether this repeats a failure already logged ({@link BrokerErrorOptions.repeat}). */
  readonly repeat: boolean;

  /**
   * @param code - stable code; it sets the HTTP status
   * @param description - human-readable text without secrets
   * @param options - cause and retry hint
   */
  constructor(code: ErrorCode, description: string, options: BrokerErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerError';
    this.status =
      options.gateway !== undefined && code === 'upstream_unavailable'
        ? options.gateway
        : ERROR_STATUS[code];
    this.code = code;
    this.expose = code !== 'server_error';
    this.retryAfter = options.retryAfter;
    this.repeat = options.repeat === true;
  }
}

/** 400: the request is malformed. */
export class InvalidRequest extends BrokerError {
  /** @param description - what is wrong */
  constructor(description: string, options?: BrokerErrorOptions) {
    super('invalid_request', description, options);
  }
}

/** 401: missing or wrong `X-Broker-Key`. */
export class Unauthorized extends BrokerError {
  constructor() {
    super('unauthorized', 'Missing or wrong broker key.');
  }
}

/** 401: there is no usable grant; the user must sign in to the provider. */
export class LoginRequired extends BrokerError {
  /** @param provider - the provider id */
  constructor(provider: string, reason = 'is not signed in', options?: BrokerErrorOptions) {
    super('login_required', `Provider '${provider}' ${reason}: sign in again.`, options);
  }
}

/** 403: the scopes asked are outside what the provider allows or the grant holds. */
export class ScopeNotAllowed extends BrokerError {
  /** @param description - which scopes and why */
  constructor(description: string) {
    super('scope_not_allowed', description);
  }
}

/** 403: a plugin asked for tokens of a provider and the user has not decided yet. */
export class ConsentRequired extends BrokerError {
  /**
   * @param client - the plugin's client label (validated)
   * @param provider - provider id
   */
  constructor(client: string, provider: string) {
    super(
      'consent_required',
      `'${client}' needs your consent to use '${provider}': allow or deny it in JupyterLab.`
    );
  }
}

/** 403: the user denied a plugin the tokens of a provider. */
export class ConsentDenied extends BrokerError {
  /**
   * @param client - the plugin's client label (validated)
   * @param provider - provider id
   */
  constructor(client: string, provider: string) {
    super('consent_denied', `You denied '${client}' the use of '${provider}'.`);
  }
}

/** 403: the provider hands out no tokens (`expose_token: false`); its egress uses them instead. */
export class TokenNotExposed extends BrokerError {
  /** @param provider - provider id */
  constructor(provider: string) {
    super(
      'token_not_exposed',
      `Provider '${provider}' hands out no tokens to notebook code or plugins: use its egress, ` +
        `e.g. broker_session('${provider}').`
    );
  }
}

/** 403: an egress target under none of the provider's `egress` prefixes; no token was fetched. */
export class EgressNotAllowed extends BrokerError {
  /**
   * @param provider - provider id
   * @param origin - the target's origin (never its path's query)
   */
  constructor(provider: string, origin: string) {
    super(
      'egress_not_allowed',
      `Provider '${provider}' may not send its token to ${origin}: the target is under none of ` +
        'its egress prefixes.'
    );
  }
}

/** 404: no provider with that id is configured. */
export class UnknownProvider extends BrokerError {
  /** @param provider - the id asked for (already validated, safe to echo) */
  constructor(provider: string) {
    super('unknown_provider', `No provider '${provider}' is configured.`);
  }
}

/** 502: the identity provider answered with something the broker cannot use. */
export class UpstreamError extends BrokerError {
  /** @param description - what went wrong, without token material */
  constructor(description: string, options?: BrokerErrorOptions) {
    super('upstream_error', description, options);
  }
}

/** 503: the identity provider is unreachable, timed out or answered 5xx. The grant is kept. */
export class UpstreamUnavailable extends BrokerError {
  /** @param description - what went wrong */
  constructor(description: string, options: BrokerErrorOptions = {}) {
    super('upstream_unavailable', description, { retryAfter: 5, ...options });
  }
}

/** 503: the token store failed. Thrown by the stores themselves (`stores/tokenStore.ts`). */
export class StoreUnavailable extends BrokerError {
  /**
   * @param description - the store type and what is wrong, without secrets
   * @param options - cause
   */
  constructor(description: string, options: BrokerErrorOptions = {}) {
    super('store_unavailable', description, { retryAfter: 5, ...options });
  }
}

/**
 * 503: the provider cannot be used until an admin fixes its configuration (its client secret file is
 * missing or readable by others). No `Retry-After`: asking again gives the same answer until it is
 * fixed, and the first request after the fix succeeds.
 */
export class Misconfigured extends BrokerError {
  /** @param description - what is wrong and how to fix it, naming files but never their contents */
  constructor(description: string, options?: BrokerErrorOptions) {
    super('config_error', description, options);
  }
}

/** An error answer: status, headers and the `{error, error_description}` body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: ErrorCode; error_description: string };
}

/**
 * Whether express's router failed the request because a path parameter is not valid
 * percent-encoding (it throws a `URIError` carrying `status: 400`).
 *
 * @param err - what was thrown
 * @returns true for that error only
 */
function isMalformedPath(err: unknown): boolean {
  return err instanceof URIError && (err as URIError & { status?: number }).status === 400;
}

/**
 * Turns anything thrown into the answer a caller gets. Unknown errors become a 500 `server_error`
 * whose details stay in the log.
 *
 * @param err - what was thrown
 * @returns status, headers and body
 */
export function toErrorBody(err: unknown): ErrorAnswer {
  if (err instanceof BrokerError) {
    const headers: Record<string, string> = {};
    if (err.retryAfter !== undefined) headers['Retry-After'] = String(Math.ceil(err.retryAfter));
    return {
      status: err.status,
      headers,
      body: {
        error: err.code,
        error_description: err.expose ? err.message : 'Internal error.'
      }
    };
  }
  if (isMalformedPath(err)) {
    return toErrorBody(new InvalidRequest('The request path is not well-formed.', { cause: err }));
  }
  return {
    status: 500,
    headers: {},
    body: { error: 'server_error', error_description: 'Internal error.' }
  };
}
