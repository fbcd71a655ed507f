/**
 * The egress allowlist: a provider's token goes only to a target under one of its `egress`
 * prefixes. Compared as parts (scheme, host, port, path), never as text, on a target already
 * cleared of dot segments and encoded separators (`target.ts`).
 */
import type { EgressPrefix } from '../providers/egressConfig.js';
import type { EgressTarget } from './target.js';

/**
 * Whether a prefix allows a target: the same scheme, host (both lower case) and port (both
 * defaulted), and the target's path starts with the prefix's path (which ends with `/`).
 *
 * @param prefix - one `egress` entry
 * @param target - the call's target
 * @returns true when the provider's token may go there
 * @example
 * ```ts
 * allows(egressPrefix('https://archive.example.org/tap/', 'k'), parseTarget('https', 'archive.example.org:443', 'tap/sync', ''));
 * // true
 * ```
 */
export function allows(prefix: EgressPrefix, target: EgressTarget): boolean {
  return (
    prefix.scheme === target.scheme &&
    prefix.host === target.host &&
    prefix.port === target.port &&
    target.path.startsWith(prefix.path)
  );
}

/**
 * The prefix that allows a target, if any.
 *
 * @param prefixes - the provider's `egress`
 * @param target - the call's target
 * @returns the first prefix that allows it, or undefined (the call is refused)
 */
export function allowingPrefix(
  prefixes: readonly EgressPrefix[],
  target: EgressTarget
): EgressPrefix | undefined {
  return prefixes.find(prefix => allows(prefix, target));
}
