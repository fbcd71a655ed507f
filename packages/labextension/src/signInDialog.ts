/**
 * The dialog that asks the person before a plugin's `getSession({createIfNone})` signs them in.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

/**
 * Asks whether to sign in to a provider. The login popup opens from the dialog's button click,
 * so popup blockers let it through.
 *
 * @param provider - the provider id and title.
 * @returns `true` when the person chose to sign in.
 *
 * @example
 * ```ts
 * const broker = new TokenBroker({ serverSettings, confirmSignIn: confirmSignInDialog });
 * ```
 */
export async function confirmSignInDialog(provider: {
  id: string;
  title: string;
}): Promise<boolean> {
  const result = await showDialog({
    title: `Sign in to ${provider.title}?`,
    body: `A JupyterLab extension asks for an access token of ${provider.title}. Sign in to grant it; you can sign out any time in the Token Broker panel.`,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Sign in' })]
  });
  return result.button.accept;
}
