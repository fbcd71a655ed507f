/**
 * The panel's "Extension access" section: the consent decisions the broker keeps, each with a
 * Withdraw button.
 */
import { clientName } from './pluginNames';
import type { ConsentDecision, IConsent } from './tokens';

/** The decisions in words. */
const DECISION_TEXT: Record<ConsentDecision, string> = {
  allow: 'allowed for this session',
  allow_always: 'always allowed',
  deny: 'denied'
};

/**
 * The list of consent decisions.
 */
export class ConsentList {
  /** The section element. */
  readonly node: HTMLElement;
  private readonly _list: HTMLElement;
  private readonly _status: HTMLElement;
  private readonly _withdraw: (consent: IConsent) => void;

  /**
   * @param withdraw - called from a Withdraw button's click.
   */
  constructor(withdraw: (consent: IConsent) => void) {
    this._withdraw = withdraw;
    this.node = document.createElement('section');
    this.node.className = 'jp-TokenBroker-section';
    const heading = document.createElement('h3');
    heading.className = 'jp-TokenBroker-sectionTitle';
    heading.id = 'jp-TokenBroker-consents-title';
    heading.textContent = 'Extension access';
    this.node.setAttribute('aria-labelledby', heading.id);
    this._status = document.createElement('p');
    this._status.className = 'jp-TokenBroker-status';
    this._list = document.createElement('ul');
    this._list.className = 'jp-TokenBroker-consents';
    this.node.append(heading, this._status, this._list);
  }

  /**
   * Shows the decisions.
   *
   * @param consents - the broker's list.
   * @param titleOf - the title of a provider id.
   */
  render(consents: ReadonlyArray<IConsent>, titleOf: (provider: string) => string): void {
    this._status.hidden = consents.length > 0;
    this._status.textContent = 'No extension has asked for tokens yet.';
    this._list.replaceChildren(
      ...consents.map(consent => {
        const item = document.createElement('li');
        item.className = 'jp-TokenBroker-consent';
        // The readable name; the plugin id (what the decision is recorded under) on hover.
        const name = clientName(consent.client);
        const client = document.createElement('strong');
        client.textContent = name;
        client.title = consent.client;
        const title = titleOf(consent.provider);
        const text = document.createElement('span');
        text.append(client, ` → ${title}: ${DECISION_TEXT[consent.decision]}`);
        const withdraw = document.createElement('button');
        withdraw.type = 'button';
        withdraw.className = 'jp-Button jp-mod-styled jp-mod-reject jp-TokenBroker-button';
        withdraw.textContent = 'Withdraw';
        withdraw.setAttribute('aria-label', `Withdraw consent of ${name} for ${title}`);
        withdraw.addEventListener('click', () => {
          withdraw.disabled = true;
          this._withdraw(consent);
        });
        item.append(text, withdraw);
        return item;
      })
    );
  }

  /**
   * Shows why the list cannot be read.
   *
   * @param message - the error text.
   */
  showError(message: string): void {
    this._list.replaceChildren();
    this._status.hidden = false;
    this._status.textContent = message;
  }
}
