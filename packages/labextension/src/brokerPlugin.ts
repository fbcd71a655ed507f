/**
 * The plugin that provides the {@link ITokenBroker} service.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { TokenBroker } from './broker';
import { askConsentDialog } from './consentDialog';
import { showTokenPicker } from './pickerDialog';
import { Preferences } from './preferences';
import { confirmSignInDialog } from './signInDialog';
import { ITokenBroker } from './tokens';

/**
 * Provides {@link ITokenBroker}, backed by the Jupyter server's `token-broker/api/v1` routes, with
 * JupyterLab dialogs for sign-in confirmation, consent and the token picker.
 */
export const brokerPlugin: JupyterFrontEndPlugin<ITokenBroker> = {
  id: 'jupyter-token-broker:broker',
  description: 'Provides the token broker service: short-lived access tokens for plugins.',
  autoStart: true,
  provides: ITokenBroker,
  optional: [ISettingRegistry],
  activate: (app: JupyterFrontEnd, registry: ISettingRegistry | null): ITokenBroker => {
    // Preferences load in the background: the service must be available at once.
    let preferences = new Preferences();
    void Preferences.load(registry).then(loaded => (preferences = loaded));
    // Dialogs name a plugin by its package and show the description it registered with.
    const describe = (pluginId: string): string => app.getPluginDescription(pluginId);
    return new TokenBroker({
      serverSettings: app.serviceManager.serverSettings,
      confirmSignIn: (provider, client) => confirmSignInDialog(provider, client, describe),
      askConsent: request => askConsentDialog(request, describe),
      pickToken: async (providers, options) => {
        const picked = await showTokenPicker(providers, {
          ...options,
          defaultProvider: preferences.current.defaultProvider
        });
        return picked?.choice ?? null;
      }
    });
  }
};
