/**
 * The dialog that asks the person before a plugin's `getSession({createIfNone})` signs them in.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { clientDetails } from './consentDialog';
import { describeClient, type DescribePlugin } from './pluginNames';
import { FIRST_PARTY_CLIENT } from './tokens';

/**
 * Asks whether to sign in to a provider, naming the plugin that asks. The login popup opens from the dialog's
 * button click, so popup blockers let it through.
 *
 * @param provider - the provider id and title.
 * @param client - the client label of the plugin that asks (its readable name is shown, its id below).
 * @param describe - JupyterLab's plugin descriptions (`id => app.getPluginDescription(id)`), if available.
 * @returns `true` when the person chose to sign in.
 *
 * @example
 * ```ts
 * const confirmSignIn: ConfirmSignIn = (provider, client) =>
 *   confirmSignInDialog(provider, client, id => app.getPluginDescription(id));
 * ```
 */
export async function confirmSignInDialog(
  provider: {
    id: string;
    title: string;
  },
  client: string = FIRST_PARTY_CLIENT,
  describe?: DescribePlugin
): Promise<boolean> {
  const title = `Sign in to ${provider.title}?`;
  const dialog = new Dialog({
    title,
    body: signInBody(provider.title, client, describe),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Sign in' })]
  });
  // Named by its question, so assistive technology (and role-based tests) can tell it apart.
  dialog.node.setAttribute('aria-label', title);
  const result = await dialog.launch();
  return result.button.accept;
}

/** Who asks and what signing in grants. Plain text nodes only. */
function signInBody(providerTitle: string, clientId: string, describe?: DescribePlugin): Widget {
  const node = document.createElement('div');
  node.className = 'jp-TokenBroker-consentBody';
  const ask = document.createElement('p');
  const after = ` asks for an access token of ${providerTitle}. Sign in to grant it; you can sign out any time in the Token Broker panel.`;
  if (clientId === FIRST_PARTY_CLIENT) {
    ask.textContent = `JupyterLab${after}`;
    node.append(ask);
  } else {
    const client = describeClient(clientId, describe);
    const name = document.createElement('strong');
    name.textContent = client.name;
    ask.append('The JupyterLab extension ', name, after);
    node.append(ask, ...clientDetails(client));
  }
  return new Widget({ node });
}
