/**
 * What the status bar says about the providers: how many are signed in, and which need attention.
 */
import type { IProviderInfo } from './tokens';

/**
 * The status bar's text and whether it warns.
 *
 * @param providers - the providers as the broker lists them.
 * @returns e.g. `{text: 'Tokens: 1 signed in', warning: false}`; `warning` when a provider that was
 *   signed in needs a new sign-in, or reports a problem.
 *
 * @example
 * ```ts
 * statusText(await broker.providers()).text; // 'Tokens: 1 signed in, 1 needs login'
 * ```
 */
export function statusText(providers: ReadonlyArray<IProviderInfo>): {
  text: string;
  warning: boolean;
} {
  const signedIn = providers.filter(p => p.signedIn && !p.needsLogin).length;
  const lapsed = providers.filter(p => p.signedIn && p.needsLogin).length;
  const failing = providers.filter(p => p.error !== undefined).length;
  const parts = [`Tokens: ${signedIn} signed in`];
  if (lapsed > 0) {
    parts.push(`${lapsed} needs login`);
  }
  if (failing > 0) {
    parts.push(`${failing} with problems`);
  }
  return { text: parts.join(', '), warning: lapsed > 0 || failing > 0 };
}
