/**
 * Who signed in: the account label from ID token claims or, for providers without ID tokens, from
 * the userinfo endpoint (JupyterHub: `GET /hub/api/user`, which also tells the token's scopes).
 */
import { UpstreamError } from '../errors.js';

/** Claims tried in order when the provider names no `account_claim`. */
const LABEL_CLAIMS = ['preferred_username', 'email', 'name', 'username', 'sub'];

/**
 * The account label of a sign-in.
 *
 * @param claims - ID token or userinfo claims
 * @param claim - the configured `account_claim`, or null for the default order
 * @returns the label (at most 256 characters), or null
 * @example
 * ```ts
 * accountLabel({ sub: '1', email: 'a@example.org' }, null); // 'a@example.org'
 * ```
 */
export function accountLabel(
  claims: Readonly<Record<string, unknown>> | undefined,
  claim: string | null
): string | null {
  for (const name of claim === null ? LABEL_CLAIMS : [claim]) {
    const value = claims?.[name];
    if (typeof value === 'string' && value !== '') return value.slice(0, 256);
  }
  return null;
}

/** What a userinfo endpoint said, already checked to be a JSON object. */
export interface UserInfo {
  readonly claims: Readonly<Record<string, unknown>>;
  /** The token's scopes when the endpoint tells them (JupyterHub's `scopes`). */
  readonly scopes: readonly string[] | undefined;
}

/**
 * Reads a userinfo endpoint with an access token.
 *
 * @param fetchImpl - the provider's deadline fetch
 * @param endpoint - the userinfo URL
 * @param accessToken - the token (never logged)
 * @returns the claims
 * @throws {@link UpstreamError} when the answer is not a JSON object
 */
export async function fetchUserInfo(
  fetchImpl: (url: string, init: RequestInit) => Promise<Response>,
  endpoint: string,
  accessToken: string
): Promise<UserInfo> {
  const response = await fetchImpl(endpoint, {
    method: 'GET',
    headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
    redirect: 'manual'
  });
  let body: unknown;
  try {
    body = response.ok ? await response.json() : undefined;
  } catch {
    body = undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamError(`The identity provider's userinfo answered ${response.status}.`);
  }
  const claims = body as Record<string, unknown>;
  const scopes = Array.isArray(claims.scopes)
    ? claims.scopes.filter((s): s is string => typeof s === 'string')
    : undefined;
  return { claims, scopes };
}
