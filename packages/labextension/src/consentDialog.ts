/**
 * The dialog that asks whether a plugin may use a provider's tokens: Allow (this session),
 * Always allow (kept by the broker until withdrawn), or Deny.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { describeClient, type DescribePlugin, type IClientName } from './pluginNames';
import type { ConsentDecision } from './tokens';

/** The dialog's buttons, by the decision they record. */
const BUTTONS: ReadonlyArray<{ label: string; decision: ConsentDecision; style: string }> = [
  { label: 'Deny', decision: 'deny', style: 'warn' },
  { label: 'Always allow', decision: 'allow_always', style: 'default' },
  { label: 'Allow', decision: 'allow', style: 'accept' }
];

/**
 * Asks the person whether `client` may get access tokens of `provider`. The dialog names the plugin by its
 * readable name (see {@link describeClient}), with its description and its id below.
 *
 * @param request - the plugin id and the provider.
 * @param describe - JupyterLab's plugin descriptions (`id => app.getPluginDescription(id)`), if available.
 * @returns the decision, or `null` when the dialog was closed without one.
 *
 * @example
 * ```ts
 * const askConsent: AskConsent = request =>
 *   askConsentDialog(request, id => app.getPluginDescription(id));
 * ```
 */
export async function askConsentDialog(
  request: {
    client: string;
    provider: { id: string; title: string };
  },
  describe?: DescribePlugin
): Promise<ConsentDecision | null> {
  const client = describeClient(request.client, describe);
  const title = `Allow ${client.name} to use ${request.provider.title}?`;
  const dialog = new Dialog({
    title,
    body: consentBody(client, request.provider.title),
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
function consentBody(client: IClientName, providerTitle: string): Widget {
  const node = document.createElement('div');
  node.className = 'jp-TokenBroker-consentBody';
  const ask = document.createElement('p');
  const name = document.createElement('strong');
  name.textContent = client.name;
  ask.append(
    'The JupyterLab extension ',
    name,
    ` asks for access tokens of ${providerTitle}. With them it can call APIs as you.`
  );
  node.append(ask, ...clientDetails(client));
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
  node.append(choices);
  return new Widget({ node });
}

/**
 * What the plugin says it does, and its id (what the decision is recorded under), as paragraphs.
 *
 * @param client - the plugin's name, id and description.
 * @returns the paragraphs, to append below the question.
 */
export function clientDetails(client: IClientName): HTMLElement[] {
  const details: HTMLElement[] = [];
  if (client.description !== '') {
    const said = document.createElement('p');
    said.className = 'jp-TokenBroker-clientDescription';
    said.textContent = `It describes itself as: “${client.description}”`;
    details.push(said);
  }
  const id = document.createElement('p');
  id.className = 'jp-TokenBroker-clientId';
  const code = document.createElement('code');
  code.textContent = client.id;
  id.append('Plugin id: ', code);
  details.push(id);
  return details;
}
