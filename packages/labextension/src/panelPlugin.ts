/**
 * The plugin that adds the Token Broker panel, commands, palette entries and notebook cell menu.
 * It uses only the public {@link ITokenBroker} service, as any third-party plugin would.
 */
import {
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { registerCommands } from './commands';
import { TokenBrokerPanel } from './panel';
import { Preferences } from './preferences';
import { pageSharedVisit } from './sharedVisit';
import { ITokenBroker } from './tokens';

/**
 * Adds the Token Broker panel to the left sidebar and the `token-broker:*` commands.
 */
export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-token-broker:panel',
  description:
    'The Token Broker panel and commands: sign in and out, token picker, header and snippet helper.',
  autoStart: true,
  requires: [ITokenBroker],
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker, ISettingRegistry],
  activate: async (
    app: JupyterFrontEnd,
    broker: ITokenBroker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    registry: ISettingRegistry | null
  ): Promise<void> => {
    const panel = new TokenBrokerPanel({
      broker,
      commands: app.commands,
      visit: pageSharedVisit()
    });
    app.shell.add(panel, 'left', { rank: 900 });
    restorer?.add(panel, panel.id);
    const preferences = await Preferences.load(registry);
    registerCommands({ app, broker, panelId: panel.id, preferences, palette, notebooks });
  }
};
