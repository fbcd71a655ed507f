/**
 * A secret value that came from the config file (the hub provider's API token). It prints as
 * `[secret]` wherever it could leak by accident — `JSON.stringify`, template strings,
 * `util.inspect`, a log line — and gives its value only to an explicit `reveal()`.
 */

const HIDDEN = '[secret]';

/**
 * A string that never shows itself.
 *
 * @example
 * ```ts
 * const token = new Secret('s3cr3t');
 * JSON.stringify({ token }); // '{"token":"[secret]"}'
 * token.reveal(); // 's3cr3t'
 * ```
 */
export class Secret {
  readonly #value: string;

  /** @param value - the secret */
  constructor(value: string) {
    this.#value = value;
  }

  /**
   * The secret itself: only for the one request header that needs it.
   *
   * @returns the value
   */
  reveal(): string {
    return this.#value;
  }

  /** @returns `[secret]` */
  toJSON(): string {
    return HIDDEN;
  }

  /** @returns `[secret]` */
  toString(): string {
    return HIDDEN;
  }

  /** `util.inspect` (console.log, assertion messages): `[secret]`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return HIDDEN;
  }
}
