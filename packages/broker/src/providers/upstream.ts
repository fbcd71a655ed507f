/**
 * Every call to an identity provider goes through the fetch built here: it has a deadline (a
 * refresh a longer one, {@link refreshLimitMs}), turns
 * network failures, timeouts and 5xx answers into {@link UpstreamUnavailable} right where they
 * happen, and can drop ID tokens the broker has no issuer to check them against.
 */
import type { CustomFetch } from 'openid-client';

import { UpstreamUnavailable } from '../errors.js';
import type { Logger } from '../log.js';

/** Seams and limits of upstream calls. */
export interface UpstreamOptions {
  /** Deadline of every call, in milliseconds. */
  readonly timeoutMs: number;
  /** The fetch to use (tests pass a counting or failing one). */
  readonly fetch?: typeof fetch;
  /** Clock in milliseconds. */
  readonly now: () => number;
  readonly log: Logger;
  /** Seconds of clock difference tolerated when checking JWT times (openid-client's `clockTolerance`). */
  readonly clockToleranceSeconds?: number;
}

/** Most seconds a `Retry-After` from the IdP is honoured. */
const MAX_RETRY_AFTER = 300;

/**
 * The hard limit of a refresh request: the caller gets its answer at `upstream_timeout_ms`, but the
 * request goes on until this limit, so a slow IdP's rotated refresh token is still received and
 * stored. It stays below the store lock's staleness (`3 × upstream_timeout_ms + 10 s`,
 * `stores/index.ts`), so no other broker takes the grant's lock over while the refresh is out.
 *
 * @param timeoutMs - `upstream_timeout_ms`
 * @returns milliseconds: `2 × upstream_timeout_ms + 5 s`
 * @example
 * ```ts
 * refreshLimitMs(10000); // 25000
 * ```
 */
export function refreshLimitMs(timeoutMs: number): number {
  return 2 * timeoutMs + 5000;
}

/** Whether a request body is a refresh token grant (openid-client sends URLSearchParams). */
function isRefresh(body: unknown): boolean {
  return body instanceof URLSearchParams && body.get('grant_type') === 'refresh_token';
}

/**
 * Builds the fetch of one provider.
 *
 * @param options - deadline and the underlying fetch
 * @param dropIdTokenAt - a token endpoint whose `id_token` answers are removed (unverifiable), or null
 * @returns a fetch for openid-client's `customFetch`
 * @example
 * ```ts
 * configuration[customFetch] = deadlineFetch({ timeoutMs: 10000, now: Date.now, log }, null);
 * ```
 */
export function deadlineFetch(options: UpstreamOptions, dropIdTokenAt: string | null): CustomFetch {
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs;
  return async (url, init) => {
    // A refresh is never cut short at upstream_timeout_ms (the caller is answered then, by the grant):
    // an IdP that got it may rotate the refresh token, and only its answer carries the new one.
    // openid-client's own signal is only its whole-second `timeout`: a refresh keeps our limit alone.
    const refresh = isRefresh(init.body);
    const limitMs = refresh ? refreshLimitMs(timeoutMs) : timeoutMs;
    const deadline = AbortSignal.timeout(limitMs);
    const signal = init.signal && !refresh ? AbortSignal.any([init.signal, deadline]) : deadline;
    let response: Response;
    try {
      response = await fetchImpl(url, { ...init, signal } as RequestInit);
    } catch (err) {
      throw new UpstreamUnavailable(
        timedOut(err, deadline, init.signal)
          ? `The identity provider did not answer within ${limitMs} ms; if it is only slow, raise upstream_timeout_ms.`
          : 'The identity provider is unreachable.',
        { cause: err }
      );
    }
    if (response.status >= 500) {
      const retry = Number(response.headers.get('retry-after'));
      await response.body?.cancel();
      throw new UpstreamUnavailable(`The identity provider answered ${response.status}.`, {
        retryAfter: Number.isFinite(retry) && retry > 0 ? Math.min(retry, MAX_RETRY_AFTER) : 5
      });
    }
    if (dropIdTokenAt !== null && url === dropIdTokenAt && response.ok) {
      return withoutIdToken(response);
    }
    return response;
  };
}

/**
 * Whether a failed fetch ran out of time rather than reaching no one: our deadline fired, or the
 * caller's own timeout did (openid-client's `timeout` option starts earlier than our deadline, so
 * with equal lengths it fires first; it was reported as "unreachable").
 *
 * @param err - what fetch threw
 * @param deadline - our deadline's signal
 * @param callers - the signal the caller passed, if any
 */
function timedOut(
  err: unknown,
  deadline: AbortSignal,
  callers: AbortSignal | null | undefined
): boolean {
  if (deadline.aborted) return true;
  const isTimeout = (value: unknown): boolean =>
    (value as { name?: unknown } | null)?.name === 'TimeoutError';
  return isTimeout(err) || (callers?.aborted === true && isTimeout(callers.reason));
}

/** The same answer without its `id_token` member. */
async function withoutIdToken(response: Response): Promise<Response> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, { status: response.status, headers: response.headers });
  }
  if (typeof body === 'object' && body !== null && 'id_token' in body) {
    delete (body as Record<string, unknown>).id_token;
  }
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(JSON.stringify(body), { status: response.status, headers });
}
