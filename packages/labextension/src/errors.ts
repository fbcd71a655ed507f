/**
 * The closed set of errors the token broker frontend throws. Callers branch on `code`, never on
 * message text.
 */

/**
 * Base of every token broker frontend error: a stable `code` and a human readable `description`,
 * shaped like the broker's `{error, error_description}`.
 */
export class TokenBrokerError extends Error {
  /** Stable machine-readable code, e.g. `login_required`. */
  readonly code: string;
  /** Human readable description, safe to show: it never contains token material. */
  readonly description: string;

  /**
   * @param code - stable machine-readable code.
   * @param description - human readable description.
   * @param options - `cause`: the underlying error, kept for debugging.
   */
  constructor(code: string, description: string, options?: { cause?: unknown }) {
    super(`${code}: ${description}`, options);
    this.name = 'TokenBrokerError';
    this.code = code;
    this.description = description;
  }
}

/**
 * An error answer of the token broker HTTP API, or a failure to reach it.
 *
 * @example
 * ```ts
 * try {
 *   await requestBroker('providers/demo/token', { method: 'POST', body: {} });
 * } catch (error) {
 *   if (error instanceof TokenBrokerRequestError && error.code === 'login_required') {
 *     // ask the person to sign in
 *   }
 * }
 * ```
 */
export class TokenBrokerRequestError extends TokenBrokerError {
  /** HTTP status, or `0` when no answer arrived (network error). */
  readonly status: number;

  /**
   * @param status - HTTP status, `0` for a network error.
   * @param code - the broker's `error` code, or one derived from the status.
   * @param description - the broker's `error_description`, or a generic one.
   * @param options - `cause`: the underlying error.
   */
  constructor(status: number, code: string, description: string, options?: { cause?: unknown }) {
    super(code, description, options);
    this.name = 'TokenBrokerRequestError';
    this.status = status;
  }
}

/**
 * Codes of {@link SignInError}.
 *
 * - `popup_blocked`: the browser did not open the login popup.
 * - `login_cancelled`: the popup was closed (or replaced by another sign-in) before the login completed.
 * - `login_timeout`: the login did not complete in time.
 * - `login_failed`: the broker reported a failed login (the description says why).
 */
export type SignInErrorCode =
  'popup_blocked' | 'login_cancelled' | 'login_timeout' | 'login_failed';

/**
 * A sign-in through the login popup that did not complete.
 */
export class SignInError extends TokenBrokerError {
  declare readonly code: SignInErrorCode;

  /**
   * @param code - why the sign-in did not complete.
   * @param description - human readable description.
   */
  constructor(code: SignInErrorCode, description: string) {
    super(code, description);
    this.name = 'SignInError';
  }
}

/**
 * Codes of {@link ConsentError}.
 *
 * - `consent_denied`: the person denied this plugin the provider (now or earlier; withdraw the
 *   decision in the Token Broker panel to be asked again).
 * - `consent_cancelled`: the consent dialog was closed without a decision; nothing was recorded.
 */
export type ConsentErrorCode = 'consent_denied' | 'consent_cancelled';

/**
 * A plugin's token request that the person did not allow.
 *
 * @example
 * ```ts
 * try {
 *   await tokens.getSession('demo', [], { createIfNone: true });
 * } catch (error) {
 *   if (error instanceof ConsentError && error.code === 'consent_denied') {
 *     Notification.warning('The archive cannot search without access to Demo IdP.');
 *   }
 * }
 * ```
 */
export class ConsentError extends TokenBrokerError {
  declare readonly code: ConsentErrorCode;
  /** The plugin id the request was made for. */
  readonly client: string;
  /** The provider id. */
  readonly provider: string;

  /**
   * @param code - why the request was not allowed.
   * @param description - human readable description.
   * @param request - the plugin id and provider id.
   */
  constructor(
    code: ConsentErrorCode,
    description: string,
    request: { client: string; provider: string }
  ) {
    super(code, description);
    this.name = 'ConsentError';
    this.client = request.client;
    this.provider = request.provider;
  }
}

/**
 * A code and description for any error, to show it: the typed errors keep theirs, anything else
 * becomes `unexpected_error` with its message.
 *
 * @param error - what was thrown.
 * @returns `{code, description}`, never token material (the broker's errors carry none).
 */
export function describeError(error: unknown): { code: string; description: string } {
  if (error instanceof TokenBrokerError) {
    return { code: error.code, description: error.description };
  }
  const description = error instanceof Error ? error.message : String(error);
  return { code: 'unexpected_error', description };
}
