/**
 * Token lifetimes as the panel and notifications show them.
 */

/**
 * Whole seconds left until `expiresAt`, never negative.
 *
 * @param expiresAt - expiry in seconds since the epoch.
 * @param nowMs - the current time in milliseconds since the epoch.
 * @returns the remaining seconds, rounded down; `0` once expired.
 *
 * @example
 * ```ts
 * secondsLeft(1_700_000_060, 1_700_000_003_000); // 57
 * ```
 */
export function secondsLeft(expiresAt: number, nowMs: number): number {
  return Math.max(0, Math.floor(expiresAt - nowMs / 1000));
}

/**
 * Whether a token has run out by the broker's own reckoning: only once its expiry instant has passed, so the
 * last displayed second (`0:00`) still counts as valid.
 *
 * @param expiresAt - expiry in seconds since the epoch.
 * @param nowMs - the current time in milliseconds since the epoch.
 * @returns `true` from the instant `expiresAt` on.
 *
 * @example
 * ```ts
 * isExpired(1_700_000_060, 1_700_000_059_500); // false, although secondsLeft() is 0
 * ```
 */
export function isExpired(expiresAt: number, nowMs: number): boolean {
  return nowMs >= expiresAt * 1000;
}

/**
 * Formats a duration as `m:ss`, or `h:mm:ss` from one hour on.
 *
 * @param seconds - a non-negative number of seconds.
 * @returns e.g. `0:57`, `12:05`, `1:02:03`.
 *
 * @example
 * ```ts
 * formatRemaining(57); // '0:57'
 * ```
 */
export function formatRemaining(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/**
 * Formats a duration in words for a sentence: seconds below two minutes, then minutes, then hours
 * and minutes.
 *
 * @param seconds - a non-negative number of seconds.
 * @returns e.g. `57 s`, `4 min`, `2 h 5 min`.
 *
 * @example
 * ```ts
 * formatDuration(300); // '5 min'
 * ```
 */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  if (total < 120) {
    return `${total} s`;
  }
  const minutes = Math.floor(total / 60);
  if (minutes < 120) {
    return `${minutes} min`;
  }
  const rest = minutes % 60;
  return rest === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${rest} min`;
}

/** What the expiry line says once the cached access token has run out. */
export const EXPIRED_TEXT = 'Access token expired — renews on next use';

/** What the expiry line says when the broker holds a grant but has not fetched an access token yet. */
export const NO_TOKEN_TEXT = 'No access token yet — fetched on next use';

/**
 * The expiry line of a signed-in provider: a countdown, then (at 0, and after the broker dropped the expired
 * token from its list) that the token expired and renews on next use — never an empty line.
 *
 * @param expiresAt - the cached token's expiry in seconds since the epoch, or `null` when the broker has none.
 * @param nowMs - the current time in milliseconds since the epoch.
 * @param hadToken - whether a token was shown before (so a `null` means it expired rather than never existed).
 * @returns e.g. `Expires in 0:57`, {@link EXPIRED_TEXT}, or {@link NO_TOKEN_TEXT}.
 *
 * @example
 * ```ts
 * expiryText(1_700_000_060, 1_700_000_003_000, true); // 'Expires in 0:57'
 * expiryText(null, Date.now(), true); // 'Access token expired — renews on next use'
 * ```
 */
export function expiryText(expiresAt: number | null, nowMs: number, hadToken: boolean): string {
  if (expiresAt === null) {
    return hadToken ? EXPIRED_TEXT : NO_TOKEN_TEXT;
  }
  if (isExpired(expiresAt, nowMs)) {
    return EXPIRED_TEXT;
  }
  return `Expires in ${formatRemaining(secondsLeft(expiresAt, nowMs))}`;
}
