/**
 * The plugin that adds the Token Broker status bar item. It uses only the public
 * {@link ITokenBroker} service.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { Preferences } from './preferences';
import { TokenStatusItem } from './statusItem';
import { CommandIDs, ITokenBroker } from './tokens';

/**
 * Shows `Tokens: N signed in` in the status bar (unless switched off in the settings), with a
 * warning style when a provider needs a new sign-in. A click opens the Token Broker panel.
 */
export const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-token-broker:status',
  description: 'A status bar item counting signed-in providers, warning when one needs login.',
  autoStart: true,
  requires: [ITokenBroker],
  optional: [IStatusBar, ISettingRegistry],
  activate: async (
    app: JupyterFrontEnd,
    broker: ITokenBroker,
    statusBar: IStatusBar | null,
    registry: ISettingRegistry | null
  ): Promise<void> => {
    if (!statusBar) {
      return;
    }
    const preferences = await Preferences.load(registry);
    const item = new TokenStatusItem(broker, () => {
      void app.commands.execute(CommandIDs.openPanel);
    });
    const activeStateChanged = new Signal<TokenStatusItem, void>(item);
    preferences.changed.connect(() => activeStateChanged.emit());
    statusBar.registerStatusItem('jupyter-token-broker:status', {
      item,
      align: 'left',
      rank: 50,
      isActive: () => preferences.current.statusBar,
      activeStateChanged
    });
  }
};
