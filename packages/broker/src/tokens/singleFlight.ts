/**
 * Single-flight: concurrent callers that need the same thing share one call for it.
 */

/**
 * Shares one running call per key among its concurrent callers; a key is free again once its call
 * settles. A failure of the shared call is every joiner's failure (one call, one answer).
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string>();
 * const [a, b] = await Promise.all([flights.run('k', fetchIt), flights.run('k', fetchIt)]); // one fetchIt
 * ```
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  /** How many calls are running (one per key). */
  get size(): number {
    return this.running.size;
  }

  /**
   * Joins the call running for `key`, or starts `call`.
   *
   * @param key - what the callers need
   * @param call - starts the work when none is running
   * @param enough - when given, a joiner whose need the shared result does not meet (its upstream
   *   was asked for less) joins the next call or starts one, once
   * @returns the shared result
   */
  async run(key: string, call: () => Promise<T>, enough?: (result: T) => boolean): Promise<T> {
    const joined = this.running.get(key);
    if (joined !== undefined && enough !== undefined) {
      const result = await joined;
      if (enough(result)) return result;
    } else if (joined !== undefined) {
      return joined;
    }
    let flight = this.running.get(key);
    if (flight === undefined) {
      const started = call().finally(() => {
        if (this.running.get(key) === started) this.running.delete(key);
      });
      this.running.set(key, started);
      flight = started;
    }
    return flight;
  }
}
