/**
 * The clock seam. Everything that compares times takes a `Clock` so tests can move time instead of
 * waiting for it.
 */

/** Milliseconds since the epoch, like `Date.now`. */
export type Clock = () => number;

/** The real clock. */
export const systemClock: Clock = () => Date.now();

/**
 * Whole epoch seconds of a clock reading.
 *
 * @param clock - the clock
 * @returns epoch seconds, rounded down
 */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock() / 1000);
}
