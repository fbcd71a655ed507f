/**
 * Reading the claims of a JWT access token for display. The signature is not checked (the API
 * that receives the token does that); the token itself is never returned or shown, only its claims.
 */

/** Claims holding times in seconds since the epoch, shown as dates. */
const TIME_CLAIMS: ReadonlySet<string> = new Set(['exp', 'iat', 'nbf', 'auth_time']);

/**
 * One claim, ready to show.
 */
export interface IClaim {
  /** The claim name, e.g. `sub`. */
  readonly name: string;
  /** The value as text: strings as they are, times as ISO dates, anything else as JSON. */
  readonly value: string;
}

/**
 * Decodes the payload of a JWT (JWS compact serialization) without verifying it.
 *
 * @param token - an access token.
 * @returns the claims as name/value text pairs, or `null` for an opaque (non-JWT) token.
 *
 * @example
 * ```ts
 * const claims = decodeClaims(session.accessToken);
 * // [{ name: 'sub', value: 'alice' }, { name: 'exp', value: '2030-01-01T00:00:00.000Z (1893456000)' }]
 * ```
 */
export function decodeClaims(token: string): ReadonlyArray<IClaim> | null {
  const parts = token.split('.');
  // A JWS has three parts; a JWE (five) is encrypted and has no readable claims.
  if (parts.length !== 3 || parts[1] === '') {
    return null;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return null;
  }
  return Object.entries(payload as Record<string, unknown>).map(([name, value]) =>
    Object.freeze({ name, value: claimText(name, value) })
  );
}

function claimText(name: string, value: unknown): string {
  if (TIME_CLAIMS.has(name) && typeof value === 'number' && Number.isFinite(value)) {
    const date = new Date(value * 1000);
    return Number.isNaN(date.getTime()) ? String(value) : `${date.toISOString()} (${value})`;
  }
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value);
}

/** base64url → UTF-8 text; throws on characters outside the alphabet. */
function base64UrlDecode(part: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) {
    throw new Error('not base64url');
  }
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, c => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
