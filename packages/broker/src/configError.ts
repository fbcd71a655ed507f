/**
 * The error every configuration check throws: it names the bad key (and the provider by its id), and
 * for a misspelt name or value it suggests the one that was probably meant.
 */

/** Options of a {@link ConfigError}. */
export interface ConfigErrorOptions {
  /**
   * How the message names the key, when a path of indexes would not tell an admin which entry it is
   * (`provider "demo": clinet_id` rather than `providers[0].clinet_id`). Defaults to `key`.
   */
  readonly label?: string;
}

/**
 * A configuration problem. `key` is the dotted path of the bad key, for programs; the message names it
 * for people.
 *
 * @example
 * ```ts
 * throw new ConfigError('providers[0].clinet_id', 'is not an option', { label: 'provider "demo": clinet_id' });
 * // message: config: provider "demo": clinet_id: is not an option
 * ```
 */
export class ConfigError extends Error {
  /** What is wrong with the key, without the key itself. */
  readonly problem: string;

  /**
   * @param key - dotted path of the bad key, e.g. `providers[0].issuer`
   * @param problem - what is wrong with it
   * @param options - how the message names the key
   */
  constructor(
    readonly key: string,
    problem: string,
    options: ConfigErrorOptions = {}
  ) {
    super(`config: ${options.label ?? key}: ${problem}`);
    this.name = 'ConfigError';
    this.problem = problem;
  }
}

/** Edit distance of two short strings (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        rows[0].push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2][j - 2] + 1);
      }
      rows[i].push(best);
    }
  }
  return rows[a.length][b.length];
}

/**
 * The known name closest to a misspelt one, as a message suffix, or `''` when none is close enough
 * (at most a third of the word's letters differ, and at least one letter matches).
 *
 * @param word - what the config says
 * @param known - the names it may have meant
 * @returns `; did you mean "client_id"?` or `''`
 * @example
 * ```ts
 * didYouMean('clinet_id', ['client_id', 'issuer']); // '; did you mean "client_id"?'
 * ```
 */
export function didYouMean(word: string, known: Iterable<string>): string {
  const lowered = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(lowered, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= limit && bestDistance < word.length
    ? `; did you mean "${best}"?`
    : '';
}
