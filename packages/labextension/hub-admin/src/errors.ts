/**
 * The admin API's errors as the page shows them.
 */

/** The scope the admin API and this page need. */
export const ADMIN_SCOPE = 'custom:token-broker:admin';

/**
 * A failed call to the hub admin API: the HTTP status (0 when the hub could not be reached), the
 * API's stable `error` code and its `error_description`.
 */
export class AdminRequestError extends Error {
  /**
   * @param status - HTTP status, or 0 when no answer arrived.
   * @param code - the stable error code, e.g. `forbidden`, `upstream_unavailable`.
   * @param description - a description safe to show (the API never puts token material in it).
   * @param retryAfter - seconds from the `Retry-After` header of a 503, when given.
   * @param options - the underlying cause, and the parsed error answer (a failed revocation's
   *   answer also carries its per-step outcome).
   */
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly retryAfter: number | null = null,
    options?: { cause?: unknown; answer?: unknown }
  ) {
    super(`${code}: ${description}`, options);
    this.name = 'AdminRequestError';
    this.answer = options?.answer;
  }

  /** The parsed JSON of the error answer, when there was one. */
  readonly answer: unknown;
}

/**
 * The message the page shows for a failed call: what happened and what the admin can do.
 *
 * @param error - what the call threw.
 * @returns one or two sentences.
 *
 * @example
 * ```ts
 * explain(new AdminRequestError(503, 'upstream_unavailable', 'The IdP did not answer.', 30));
 * // 'The IdP did not answer. Try again in 30 s.'
 * ```
 */
export function explain(error: unknown): string {
  if (!(error instanceof AdminRequestError)) {
    return `Unexpected error: ${String(error)}`;
  }
  switch (error.code) {
    case 'forbidden':
      return `${error.description} Token-broker administration needs the scope ${ADMIN_SCOPE}.`;
    case 'unauthorized':
      return 'Your hub session has ended. Reload the page to log in again.';
    case 'network_error':
      return 'The hub cannot be reached. Check your connection and try again.';
    case 'upstream_unavailable':
      return error.retryAfter === null
        ? `${error.description} Try again later.`
        : `${error.description} Try again in ${error.retryAfter} s.`;
    default:
      return error.description;
  }
}
