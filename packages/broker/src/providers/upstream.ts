/**
 * Every call to an identity provider goes through the fetch built here: it has a deadline, turns
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
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    let response: Response;
    try {
      response = await fetchImpl(url, { ...init, signal } as RequestInit);
    } catch (err) {
      throw new UpstreamUnavailable(
        deadline.aborted
          ? `The identity provider did not answer within ${timeoutMs} ms.`
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
