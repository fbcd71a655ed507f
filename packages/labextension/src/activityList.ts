/**
 * The panel's "Recent activity" section: the newest entries of the broker's audit trail. Audit
 * events never carry token material.
 */
import { clientName } from './pluginNames';
import type { IAuditEvent } from './tokens';

/**
 * How a line looks: `ok` (done), `info` (a normal refusal the person resolves: a plugin waiting for their
 * consent, or refused after they denied it), `problem` (an error or a refusal worth a look).
 */
export type EventTone = 'ok' | 'info' | 'problem';

/** A consent event's `reason` is `<decision> for <plugin id>` (the broker's audit contract). */
const CONSENT_REASON = /^(allow|allow_always|deny|withdrawn) for (\S+)$/;

/** The consent decisions in words, as the activity list shows them. */
const CONSENT_WORDS: Readonly<Record<string, string>> = {
  allow: 'allowed for this session',
  allow_always: 'always allowed',
  deny: 'denied',
  withdrawn: 'decision withdrawn'
};

/** Refusals that wait for, or follow, the person's own choice: shown as information, not as a problem. */
const CONSENT_REFUSALS = new Set(['consent_required', 'consent_denied']);

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
 * One event as a line (time, what, provider, who, outcome) and its tone. Clients are named by their readable
 * names (see {@link clientName}); a consent decision says which one it was; a plugin asking before the person
 * chose reads `consent asked`, and a request before any sign-in `sign-in needed`, not as denials.
 *
 * @param event - the audit event.
 * @param nameOf - a client label's readable name.
 * @returns e.g. `{text: '12:03:04 consent demo · Archive Browser · always allowed', tone: 'ok'}`.
 *
 * @example
 * ```ts
 * describeEvent(event).text; // '12:03:04 issue demo · JupyterLab · ok'
 * ```
 */
export function describeEvent(
  event: IAuditEvent,
  nameOf: (client: string) => string = clientName
): { text: string; tone: EventTone } {
  const time = Number.isNaN(event.time) ? '' : new Date(event.time).toLocaleTimeString();
  const line = (what: string, parts: ReadonlyArray<string | null>): string =>
    `${time} ${what} ${parts.filter(p => p !== null && p !== '').join(' · ')}`.trim();
  const who = event.client === null ? null : nameOf(event.client);
  if (event.type === 'denial' && event.code === 'consent_required') {
    return { text: line('consent asked', [event.provider, who]), tone: 'info' };
  }
  if (event.type === 'denial' && event.code === 'login_required') {
    // Asked before anyone signed in: the card says so, and the asker may offer the sign-in itself.
    return { text: line('sign-in needed', [event.provider, who]), tone: 'info' };
  }
  const decided = event.type === 'consent' ? CONSENT_REASON.exec(event.reason ?? '') : null;
  if (decided) {
    const [, decision, plugin] = decided;
    return {
      text: line('consent', [event.provider, nameOf(plugin), CONSENT_WORDS[decision]]),
      tone: event.outcome === 'ok' ? 'ok' : 'problem'
    };
  }
  const outcome = event.code ? `${event.outcome} (${event.code})` : event.outcome;
  let tone: EventTone = event.outcome === 'ok' ? 'ok' : 'problem';
  if (event.code !== undefined && CONSENT_REFUSALS.has(event.code)) {
    tone = 'info';
  }
  return { text: line(event.type, [event.provider, who, outcome]), tone };
}

/**
 * One event as a line; see {@link describeEvent}.
 *
 * @param event - the audit event.
 * @returns e.g. `12:03:04 issue demo · JupyterLab · ok`.
 *
 * @example
 * ```ts
 * eventText(event); // '12:03:04 denial demo · Archive · denied (consent_denied)'
 * ```
 */
export function eventText(event: IAuditEvent): string {
  return describeEvent(event).text;
}

function eventItem(event: IAuditEvent): HTMLElement {
  const { text, tone } = describeEvent(event);
  const item = document.createElement('li');
  item.className = `jp-TokenBroker-event jp-mod-${tone}`;
  item.textContent = text;
  // The raw labels for the curious: the client's id and the broker's reason.
  const details = [event.client, event.reason].filter(d => d !== null && d !== undefined);
  if (details.length > 0) {
    item.title = details.join(' — ');
  }
  return item;
}
