/**
 * The error every configuration check throws: it names the bad key, so an admin can find it.
 */

/** A configuration problem; the message names the key. */
export class ConfigError extends Error {
  /** @param key - dotted path of the bad key, e.g. `providers[0].issuer` */
  constructor(
    readonly key: string,
    problem: string
  ) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}
