/**
 * Picking a provider for a command run without a `provider` argument (e.g. from the palette).
 */
import { InputDialog } from '@jupyterlab/apputils';

import { TokenBrokerError } from './errors';
import type { IProviderInfo, ITokenBroker } from './tokens';

/**
 * Resolves the provider a command acts on: the `provider` argument when given, the only matching
 * provider when there is one, else the person's pick from a dialog.
 *
 * @param broker - the token broker.
 * @param requested - the command's `provider` argument, if any.
 * @param accepts - which providers the command can act on (e.g. only signed-in ones).
 * @param question - the dialog title, e.g. `Sign in to which provider?`.
 * @returns the provider, or `null` when the person cancelled.
 * @throws {TokenBrokerError} `unknown_provider` when the argument names no provider or none fits.
 */
export async function pickProvider(
  broker: ITokenBroker,
  requested: string | undefined,
  accepts: (provider: IProviderInfo) => boolean,
  question: string
): Promise<IProviderInfo | null> {
  const providers = await broker.providers();
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
  const result = await InputDialog.getItem({ title: question, items: titles });
  if (!result.button.accept || result.value === null) {
    return null;
  }
  return candidates[titles.indexOf(result.value)] ?? null;
}
