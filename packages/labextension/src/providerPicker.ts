/**
 * Picking a provider for a command run without a `provider` argument (e.g. from the palette).
 */
import { InputDialog } from '@jupyterlab/apputils';

import { TokenBrokerError } from './errors';
import type { IProviderInfo } from './tokens';

/**
 * Resolves the provider a command acts on: the `provider` argument when given, the only matching
 * provider when there is one, else the person's pick from a dialog.
 *
 * @param source - where the provider list comes from (the token broker or a client of it).
 * @param requested - the command's `provider` argument, if any.
 * @param accepts - which providers the command can act on (e.g. only signed-in ones).
 * @param question - the dialog title, e.g. `Sign in to which provider?`.
 * @param preferred - the provider id selected first in the dialog (the default provider setting).
 * @returns the provider, or `null` when the person cancelled.
 * @throws {TokenBrokerError} `unknown_provider` when the argument names no provider or none fits.
 *
 * @example
 * ```ts
 * const provider = await pickProvider(broker, undefined, p => p.signedIn, 'Sign out of which provider?');
 * ```
 */
export async function pickProvider(
  source: { providers(): Promise<ReadonlyArray<IProviderInfo>> },
  requested: string | undefined,
  accepts: (provider: IProviderInfo) => boolean,
  question: string,
  preferred = ''
): Promise<IProviderInfo | null> {
  const providers = await source.providers();
  if (requested !== undefined) {
    const match = providers.find(p => p.id === requested);
    if (!match) {
      throw new TokenBrokerError('unknown_provider', `No provider is called "${requested}".`);
    }
    return match;
  }
  const candidates = providers.filter(accepts);
  if (candidates.length === 0) {
    throw new TokenBrokerError('unknown_provider', 'No provider fits this command right now.');
  }
  if (candidates.length === 1) {
    return candidates[0];
  }
  const titles = candidates.map(p => p.title);
  const current = Math.max(
    0,
    candidates.findIndex(p => p.id === preferred)
  );
  const result = await InputDialog.getItem({ title: question, items: titles, current });
  if (!result.button.accept || result.value === null) {
    return null;
  }
  return candidates[titles.indexOf(result.value)] ?? null;
}
