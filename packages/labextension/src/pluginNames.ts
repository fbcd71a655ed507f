/**
 * Readable names for client labels: a plugin id such as `@jupyter-token-broker/archive-browser:plugin` is shown
 * as "Archive Browser", the name its package gives it, with the plugin's own description where JupyterLab knows
 * it. The raw id stays available: consents are recorded under it, and two plugins may share a name.
 */
import { FIRST_PARTY_CLIENT } from './tokens';

/** Names of the labels that are not plugins. */
const FIRST_PARTY_NAMES: Readonly<Record<string, string>> = {
  [FIRST_PARTY_CLIENT]: 'JupyterLab',
  kernel: 'Notebook kernel',
  unknown: 'Unlabelled client'
};

/**
 * Where plugin descriptions come from: JupyterLab's application (`app.getPluginDescription`).
 */
export type DescribePlugin = (pluginId: string) => string;

/** A client label as the person reads it. */
export interface IClientName {
  /** The readable name, e.g. `Archive Browser`. */
  readonly name: string;
  /** The label itself, e.g. `@jupyter-token-broker/archive-browser:plugin`. */
  readonly id: string;
  /** The plugin's own description, when JupyterLab has one; `''` otherwise. */
  readonly description: string;
}

/**
 * The readable name of a client label: the last part of the plugin's package name in title case, or the
 * first-party client's name.
 *
 * @param clientId - a client label (a plugin id, `jupyterlab`, `kernel`).
 * @returns e.g. `Archive Browser` for `@jupyter-token-broker/archive-browser:plugin`, `JupyterLab` for
 *   `jupyterlab`; the label itself when it has no readable part.
 *
 * @example
 * ```ts
 * clientName('@acme/vo-tap_client:plugin'); // 'Vo Tap Client'
 * ```
 */
export function clientName(clientId: string): string {
  const firstParty = FIRST_PARTY_NAMES[clientId];
  if (firstParty !== undefined) {
    return firstParty;
  }
  const pkg = clientId.split(':')[0];
  const last = pkg.split('/').pop() ?? '';
  const words = last.split(/[-_.\s]+/).filter(word => word !== '');
  if (words.length === 0) {
    return clientId;
  }
  return words.map(word => word.charAt(0).toUpperCase() + word.slice(1)).join(' ');
}

/**
 * A client label with its readable name and, when `describe` knows the plugin, its description.
 *
 * @param clientId - a client label.
 * @param describe - JupyterLab's plugin descriptions, if available.
 * @returns the name, the id and the description.
 *
 * @example
 * ```ts
 * describeClient(id, pluginId => app.getPluginDescription(pluginId)).name; // 'Archive Browser'
 * ```
 */
export function describeClient(clientId: string, describe?: DescribePlugin): IClientName {
  let description = '';
  if (describe && FIRST_PARTY_NAMES[clientId] === undefined) {
    try {
      description = describe(clientId).trim();
    } catch {
      // An unknown plugin has no description; the name still says who asks.
    }
  }
  return { name: clientName(clientId), id: clientId, description };
}
