/**
 * The hub-side audit trail, newest first: who did what to whom, and the outcome.
 */
import { badge, h } from './element';
import { localTime } from './time';
import type { IAuditEvent } from './wire';

const OUTCOME_TONES: Readonly<Record<string, string>> = {
  ok: 'success',
  partial: 'warning',
  queued: 'warning',
  error: 'danger',
  skipped: 'secondary'
};

/**
 * Renders audit events.
 *
 * @param events - newest first, as the API answers them.
 * @returns the table (or a paragraph when there are none).
 */
export function auditTable(events: readonly IAuditEvent[]): HTMLElement {
  if (events.length === 0) {
    return h('p', { class: 'text-body-secondary' }, 'No events yet.');
  }
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table table-sm table-hover', 'aria-label': 'Audit trail' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Time', 'Admin', 'User', 'Action', 'Provider', 'Outcome', 'Reason'].map(title =>
            h('th', { scope: 'col' }, title)
          )
        )
      ),
      h('tbody', {}, ...events.map(eventRow))
    )
  );
}

function eventRow(event: IAuditEvent): HTMLTableRowElement {
  return h(
    'tr',
    {},
    h('td', { class: 'text-nowrap' }, h('time', { datetime: event.time }, localTime(event.time))),
    h('td', {}, event.actor),
    h('td', {}, event.user ?? '—'),
    h('td', {}, event.action),
    // A revocation without a provider took everything; other actions (a list) name none.
    h('td', {}, event.provider ?? (event.action === 'revoke' ? 'everything' : '—')),
    h(
      'td',
      {},
      badge(event.outcome, OUTCOME_TONES[event.outcome] ?? 'secondary'),
      event.code ? h('span', { class: 'small text-body-secondary ms-1' }, event.code) : null
    ),
    h('td', { class: 'small' }, event.reason ?? '')
  );
}
