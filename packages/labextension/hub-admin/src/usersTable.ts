/**
 * The table of users: each one's hub login, servers with their providers, pending orders, and the
 * buttons that open the revoke dialog.
 */
import { badge, h } from './element';
import { expiry, localTime } from './time';
import type { IAdminUser, IHubLogin, IServerProvider, IUserServer } from './wire';

/** What a revoke button asks for: a user, and one provider or everything (`null`). */
export type RevokeAsk = (user: IAdminUser, provider: string | null) => void;

/**
 * Renders the users.
 *
 * @param users - the list's users.
 * @param onRevoke - called by every revoke button.
 * @param now - milliseconds since the epoch, for expiries.
 * @returns the table (or a paragraph when no user matches).
 */
export function usersTable(
  users: readonly IAdminUser[],
  onRevoke: RevokeAsk,
  now: number
): HTMLElement {
  if (users.length === 0) {
    return h('p', { class: 'text-body-secondary' }, 'No user matches the filter.');
  }
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table table-striped align-top', 'aria-label': 'Users and their tokens' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'User'),
          h('th', { scope: 'col' }, 'Hub login'),
          h('th', { scope: 'col' }, 'Servers and providers'),
          h('th', { scope: 'col' }, 'Pending orders'),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))
        )
      ),
      h('tbody', {}, ...users.map(user => userRow(user, onRevoke, now)))
    )
  );
}

function userRow(user: IAdminUser, onRevoke: RevokeAsk, now: number): HTMLTableRowElement {
  const revokeAll = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-sm btn-outline-danger',
      'aria-label': `Revoke tokens of ${user.name}`
    },
    'Revoke…'
  );
  revokeAll.addEventListener('click', () => onRevoke(user, null));
  return h(
    'tr',
    { 'data-user': user.name },
    h('th', { scope: 'row' }, user.name),
    h('td', {}, hubLogin(user.hub_login, now)),
    h('td', {}, ...serverBlocks(user, onRevoke, now)),
    h(
      'td',
      {},
      user.pending_orders > 0
        ? badge(`${user.pending_orders} pending`, 'warning')
        : h('span', { class: 'text-body-secondary' }, 'none')
    ),
    h('td', { class: 'text-end' }, revokeAll)
  );
}

function hubLogin(login: IHubLogin, now: number): HTMLElement {
  if (!login.held) {
    return h(
      'div',
      {},
      badge('no tokens', 'secondary'),
      h('div', { class: 'small text-body-secondary' }, 'Logs in again at the next hub visit.'),
      details([['Last used', localTime(login.last_used_at)]])
    );
  }
  return h(
    'div',
    {},
    badge('held', 'success'),
    details([
      ['Account', login.account ?? '—'],
      ['Scopes', scopeList(login.scopes)],
      ['Expires', expiry(login.expires_at, now)],
      ['Last used', localTime(login.last_used_at)]
    ])
  );
}

function serverBlocks(user: IAdminUser, onRevoke: RevokeAsk, now: number): HTMLElement[] {
  if (user.servers.length === 0) {
    return [h('span', { class: 'text-body-secondary' }, 'no server')];
  }
  return user.servers.map(server =>
    h(
      'div',
      { class: 'mb-2', 'data-server': server.name },
      h(
        'div',
        {},
        h('strong', {}, serverLabel(server)),
        ' ',
        server.running ? badge('running', 'primary') : badge('stopped', 'secondary')
      ),
      server.error
        ? h(
            'div',
            { class: 'small text-danger' },
            `No provider list: ${server.error.description} (${server.error.code})`
          )
        : null,
      server.providers && server.providers.length > 0
        ? h(
            'ul',
            { class: 'list-unstyled ms-3 mb-0' },
            ...server.providers.map(provider => providerItem(user, provider, onRevoke, now))
          )
        : null,
      server.running && server.broker_running === false
        ? h(
            'div',
            { class: 'small text-body-secondary ms-3' },
            'token broker not running: nothing held in memory; it starts at the next token request'
          )
        : server.running && server.providers?.length === 0
          ? h('div', { class: 'small text-body-secondary ms-3' }, 'no providers')
          : null
    )
  );
}

/**
 * How a server is named on the page.
 *
 * @param server - a user's server.
 * @returns `default server` or `server "NAME"`.
 */
export function serverLabel(server: Pick<IUserServer, 'name'>): string {
  return server.name === '' ? 'default server' : `server “${server.name}”`;
}

function providerItem(
  user: IAdminUser,
  provider: IServerProvider,
  onRevoke: RevokeAsk,
  now: number
): HTMLLIElement {
  const revoke = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-link btn-sm p-0 ms-2 link-danger',
      'aria-label': `Revoke ${provider.title} of ${user.name}`
    },
    'revoke'
  );
  revoke.addEventListener('click', () => onRevoke(user, provider.id));
  return h(
    'li',
    { class: 'small', 'data-provider': provider.id },
    h('span', { class: 'fw-semibold' }, provider.title),
    ' ',
    h('code', {}, provider.id),
    ' ',
    provider.signed_in ? badge('signed in', 'success') : badge('not signed in', 'secondary'),
    provider.signed_in ? revoke : null,
    provider.signed_in
      ? details([
          ['Account', provider.account ?? '—'],
          ['Scopes', scopeList(provider.scopes)],
          ['Expires', expiry(provider.expires_at, now)]
        ])
      : null
  );
}

function details(rows: ReadonlyArray<readonly [string, string | Node]>): HTMLElement {
  return h(
    'dl',
    { class: 'row small mb-0 mt-1' },
    ...rows.flatMap(([term, value]) => [
      h('dt', { class: 'col-4 fw-normal text-body-secondary' }, term),
      h('dd', { class: 'col-8 mb-0' }, value)
    ])
  );
}

function scopeList(scopes: readonly string[]): Node {
  if (scopes.length === 0) {
    return document.createTextNode('—');
  }
  const span = h('span', {});
  scopes.forEach((scope, index) => {
    if (index > 0) {
      span.append(' ');
    }
    span.append(h('code', {}, scope));
  });
  return span;
}
