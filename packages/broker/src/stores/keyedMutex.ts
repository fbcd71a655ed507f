/**
 * An in-process mutex per key: tasks with the same key run one after another, in call order.
 */

/**
 * Serialises async tasks per key within one process.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 * await mutex.run('demo', async () => 'done');
 * ```
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `task` after every earlier task of `key` has settled.
   *
   * @param key - what the tasks contend for
   * @param task - the work
   * @returns what `task` returns
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const settled = result.catch(() => undefined);
    this.tails.set(key, settled);
    void settled.then(() => {
      if (this.tails.get(key) === settled) this.tails.delete(key);
    });
    return result;
  }
}
