/**
 * The status bar item: how many providers are signed in, and a warning when one needs a new sign-in.
 */
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { describeError } from './errors';
import { statusText } from './statusText';
import type { ITokenBroker } from './tokens';

/** How often the item re-reads the provider list, in ms (a sign-in can lapse at any time). */
const POLL_MS = 60_000;

/**
 * The status bar item widget; clicking it runs `open`.
 */
export class TokenStatusItem extends Widget {
  private readonly _broker: ITokenBroker;
  private readonly _button: HTMLButtonElement;
  private _timer: ReturnType<typeof setInterval> | null = null;

  /**
   * @param broker - the token broker service.
   * @param open - what a click does (open the panel).
   */
  constructor(broker: ITokenBroker, open: () => void) {
    super();
    this._broker = broker;
    this.addClass('jp-TokenBroker-statusItem');
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-TokenBroker-statusButton';
    this._button.title = 'Open the Token Broker panel';
    this._button.textContent = 'Tokens: …';
    this._button.addEventListener('click', open);
    this.node.append(this._button);
    broker.sessionsChanged.connect(() => void this.refresh(), this);
  }

  /**
   * Re-reads the provider list and shows it.
   *
   * @returns resolves when shown (errors are shown, not thrown).
   */
  async refresh(): Promise<void> {
    try {
      const { text, warning } = statusText(await this._broker.providers());
      this._show(
        text,
        warning,
        warning ? 'A provider needs attention: open the Token Broker panel' : ''
      );
    } catch (error) {
      const { code } = describeError(error);
      this._show('Tokens: unavailable', true, `The token broker cannot be reached (${code})`);
    }
  }

  /** Stops polling and disconnects. */
  dispose(): void {
    this._stop();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.refresh();
    if (this._timer === null) {
      this._timer = setInterval(() => void this.refresh(), POLL_MS);
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._stop();
    super.onBeforeDetach(msg);
  }

  private _show(text: string, warning: boolean, why: string): void {
    this._button.textContent = text;
    this._button.title = why === '' ? 'Open the Token Broker panel' : why;
    this.toggleClass('jp-mod-warning', warning);
  }

  private _stop(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }
}
