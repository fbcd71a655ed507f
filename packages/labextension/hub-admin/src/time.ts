/**
 * How times are shown: absolute in the browser's locale, plus how far from now.
 */

/**
 * An expiry as `in 4 min (12:03:10)` or `expired 2 h ago (…)`.
 *
 * @param expiresAt - seconds since the epoch, or `null`.
 * @param now - milliseconds since the epoch.
 * @returns the text, `—` when unknown.
 *
 * @example
 * ```ts
 * expiry(1_700_000_300, 1_700_000_000_000); // 'in 5 min (…)'
 * ```
 */
export function expiry(expiresAt: number | null, now: number): string {
  if (expiresAt === null) {
    return '—';
  }
  const seconds = Math.round(expiresAt - now / 1000);
  const when = new Date(expiresAt * 1000).toLocaleString();
  return seconds >= 0
    ? `in ${duration(seconds)} (${when})`
    : `expired ${duration(-seconds)} ago (${when})`;
}

/**
 * An ISO time in the browser's locale.
 *
 * @param iso - an ISO 8601 time, or `null`.
 * @returns the text, `—` when unknown or not a time.
 */
export function localTime(iso: string | null): string {
  if (!iso) {
    return '—';
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function duration(seconds: number): string {
  if (seconds < 90) {
    return `${seconds} s`;
  }
  if (seconds < 90 * 60) {
    return `${Math.round(seconds / 60)} min`;
  }
  if (seconds < 36 * 3600) {
    return `${Math.round(seconds / 3600)} h`;
  }
  return `${Math.round(seconds / 86400)} d`;
}
