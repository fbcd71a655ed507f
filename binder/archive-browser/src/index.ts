/**
 * An example third-party plugin of jupyter-token-broker: the Archive Browser.
 *
 * The whole pattern for plugin authors:
 * 1. `requires: [ITokenBroker]` from the `jupyter-token-broker` package (shared with the token broker's own
 *    extension: see `sharedPackages` in package.json);
 * 2. `broker.forClient(<your plugin id>)`: every token request is made in your plugin's name, so the person
 *    is asked once whether your plugin may use a provider, and the audit trail names your plugin;
 * 3. `tokens.fetch(url, { provider, scopes, createIfNone: true })` from a click handler.
 */
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ILayoutRestorer } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITokenBroker } from 'jupyter-token-broker';

import { ArchivePanel, type IArchiveSettings } from './archivePanel';

/** The plugin id: also the name the person allows or denies in the consent dialog. */
const PLUGIN_ID = '@jupyter-token-broker/archive-browser:plugin';

/** The settings until the registry has loaded them (the defaults of `schema/plugin.json`). */
const DEFAULTS: IArchiveSettings = {
  apiUrl: 'http://127.0.0.1:9401',
  provider: 'demo',
  scopes: ['demo:read']
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Lists the items of a protected archive API with a token from the token broker.',
  autoStart: true,
  requires: [ITokenBroker],
  optional: [ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    broker: ITokenBroker,
    registry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ): void => {
    let settings = DEFAULTS;
    const panel = new ArchivePanel(
      broker.forClient(PLUGIN_ID),
      () => settings,
      app.serviceManager.serverSettings.baseUrl
    );
    app.shell.add(panel, 'left', { rank: 950 });
    restorer?.add(panel, panel.id);

    void registry?.load(PLUGIN_ID).then(loaded => {
      const read = (): void => {
        settings = loaded.composite as unknown as IArchiveSettings;
      };
      read();
      loaded.changed.connect(read);
    });
  }
};

export default plugin;
