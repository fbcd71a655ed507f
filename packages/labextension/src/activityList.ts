/**
 * The panel's "Recent activity" section: the newest entries of the broker's audit trail. Audit
 * events never carry token material.
 */
import type { IAuditEvent } from './tokens';

/**
 * The list of recent audit events.
 */
export class ActivityList {
  /** The section element (a `<details>`, open by default). */
  readonly node: HTMLDetailsElement;
  private readonly _list: HTMLElement;
  private readonly _status: HTMLElement;

  constructor() {
    this.node = document.createElement('details');
    this.node.className = 'jp-TokenBroker-section jp-TokenBroker-activity';
    this.node.open = true;
    const summary = document.createElement('summary');
    summary.className = 'jp-TokenBroker-sectionTitle';
    summary.textContent = 'Recent activity';
    this._status = document.createElement('p');
    this._status.className = 'jp-TokenBroker-status';
    this._list = document.createElement('ol');
    this._list.className = 'jp-TokenBroker-events';
    this._list.setAttribute('aria-label', 'Recent token broker activity');
    this.node.append(summary, this._status, this._list);
  }

  /**
   * Shows the events, newest first.
   *
   * @param events - the broker's events.
   */
  render(events: ReadonlyArray<IAuditEvent>): void {
    this._status.hidden = events.length > 0;
    this._status.textContent = 'Nothing happened yet.';
    this._list.replaceChildren(...events.map(eventItem));
  }

  /**
   * Shows why the trail cannot be read.
   *
   * @param message - the error text.
   */
  showError(message: string): void {
    this._list.replaceChildren();
    this._status.hidden = false;
    this._status.textContent = message;
  }
}

/**
 * One event as a line: time, what, provider, who, outcome.
 *
 * @param event - the audit event.
 * @returns e.g. `12:03:04 issue demo · jupyterlab · ok`.
 *
 * @example
 * ```ts
 * eventText(event); // '12:03:04 denial demo · @acme/archive:plugin · denied (consent_denied)'
 * ```
 */
export function eventText(event: IAuditEvent): string {
  const time = Number.isNaN(event.time) ? '' : new Date(event.time).toLocaleTimeString();
  const outcome = event.code ? `${event.outcome} (${event.code})` : event.outcome;
  const parts = [event.provider, event.client, outcome].filter(p => p !== null && p !== '');
  return `${time} ${event.type} ${parts.join(' · ')}`.trim();
}

function eventItem(event: IAuditEvent): HTMLElement {
  const item = document.createElement('li');
  item.className = `jp-TokenBroker-event jp-mod-${event.outcome === 'ok' ? 'ok' : 'problem'}`;
  item.textContent = eventText(event);
  if (event.reason) {
    item.title = event.reason;
  }
  return item;
}
