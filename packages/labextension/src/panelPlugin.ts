/**
 * The plugin that adds the Token Broker panel and commands. It uses only the public
 * {@link ITokenBroker} service, as any third-party plugin would.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { registerCommands } from './commands';
import { TokenBrokerPanel } from './panel';
import { ITokenBroker } from './tokens';

/**
 * Adds the Token Broker panel to the left sidebar and the `token-broker:*` commands.
 */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-token-broker:panel',
  description: 'The Token Broker panel: sign in, sign out, expiry countdown, copy a header.',
  autoStart: true,
  requires: [ITokenBroker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    broker: ITokenBroker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const panel = new TokenBrokerPanel({ broker });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);
    registerCommands(app, broker, panel.id, palette);
  }
};
