/**
 * The plugin that provides the {@link ITokenBroker} service.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { TokenBroker } from './broker';
import { confirmSignInDialog } from './signInDialog';
import { ITokenBroker } from './tokens';

/**
 * Provides {@link ITokenBroker}, backed by the Jupyter server's `token-broker/api/v1` routes.
 */
export const brokerPlugin: JupyterFrontEndPlugin<ITokenBroker> = {
  id: 'jupyter-token-broker:broker',
  description: 'Provides the token broker service: short-lived access tokens for plugins.',
  autoStart: true,
  provides: ITokenBroker,
  activate: (app: JupyterFrontEnd): ITokenBroker =>
    new TokenBroker({
      serverSettings: app.serviceManager.serverSettings,
      confirmSignIn: confirmSignInDialog
    })
};
