/**
 * The dialog that asks whether a plugin may use a provider's tokens: Allow (this session),
 * Always allow (kept by the broker until withdrawn), or Deny.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type { ConsentDecision } from './tokens';

/** The dialog's buttons, by the decision they record. */
const BUTTONS: ReadonlyArray<{ label: string; decision: ConsentDecision; style: string }> = [
  { label: 'Deny', decision: 'deny', style: 'warn' },
  { label: 'Always allow', decision: 'allow_always', style: 'default' },
  { label: 'Allow', decision: 'allow', style: 'accept' }
];

/**
 * Asks the person whether `client` may get access tokens of `provider`.
 *
 * @param request - the plugin id and the provider.
 * @returns the decision, or `null` when the dialog was closed without one.
 *
 * @example
 * ```ts
 * const broker = new TokenBroker({ serverSettings, askConsent: askConsentDialog });
 * ```
 */
export async function askConsentDialog(request: {
  client: string;
  provider: { id: string; title: string };
}): Promise<ConsentDecision | null> {
  const title = `Allow ${request.client} to use ${request.provider.title}?`;
  const dialog = new Dialog({
    title,
    body: consentBody(request.client, request.provider.title),
    buttons: BUTTONS.map(b =>
      Dialog.createButton({
        label: b.label,
        accept: b.decision !== 'deny',
        displayType: b.style === 'warn' ? 'warn' : 'default',
        className: b.style === 'accept' ? 'jp-mod-accept' : '',
        actions: [b.decision]
      })
    ),
    defaultButton: BUTTONS.length - 1
  });
  dialog.node.setAttribute('aria-label', title);
  dialog.addClass('jp-TokenBroker-consentDialog');
  const result = await dialog.launch();
  return BUTTONS.find(b => result.button.actions.includes(b.decision))?.decision ?? null;
}

/** The explanation: who asks, for what, and what each choice means. Plain text nodes only. */
function consentBody(client: string, providerTitle: string): Widget {
  const node = document.createElement('div');
  node.className = 'jp-TokenBroker-consentBody';
  const ask = document.createElement('p');
  const name = document.createElement('code');
  name.textContent = client;
  ask.append(
    'The JupyterLab extension ',
    name,
    ` asks for access tokens of ${providerTitle}. With them it can call APIs as you.`
  );
  const choices = document.createElement('ul');
  for (const text of [
    'Allow: until the token broker restarts or the consent expires (8 hours by default).',
    'Always allow: the token broker remembers it until you withdraw it in the Token Broker panel.',
    'Deny: the extension gets no tokens of this provider; withdraw the decision in the panel to be asked again.'
  ]) {
    const item = document.createElement('li');
    item.textContent = text;
    choices.append(item);
  }
  node.append(ask, choices);
  return new Widget({ node });
}
