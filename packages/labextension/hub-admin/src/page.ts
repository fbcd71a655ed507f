/**
 * The admin page: the filter, the users, the audit trail; a revocation reloads both.
 */
import { AdminApi, type IUserFilter } from './api';
import { auditTable } from './auditTrail';
import { h } from './element';
import { explain } from './errors';
import { filterForm } from './filters';
import { openRevokeDialog } from './revokeDialog';
import { usersTable } from './usersTable';
import type { IAdminUser } from './wire';

/** How many audit events the page shows. */
const AUDIT_LIMIT = 100;

/**
 * Renders the page into `root` and loads it.
 *
 * @example
 * ```ts
 * new AdminPage(root, new AdminApi(root.dataset.apiUrl ?? '', root.dataset.xsrfToken ?? '')).load();
 * ```
 */
export class AdminPage {
  private filter: IUserFilter = { users: [], groups: [] };
  private readonly problem = h('div', { class: 'alert alert-danger d-none', role: 'alert' });
  private readonly users = h('div', { 'aria-busy': 'true' });
  private readonly audit = h('div', { 'aria-busy': 'true' });
  private readonly auditScope = h('p', { class: 'small text-body-secondary' });

  /**
   * @param root - the template's container.
   * @param api - the admin API.
   */
  constructor(
    root: HTMLElement,
    private readonly api: AdminApi
  ) {
    const refresh = h('button', { type: 'button', class: 'btn btn-outline-secondary' }, 'Reload');
    refresh.addEventListener('click', () => void this.load());
    root.append(
      this.problem,
      filterForm(filter => {
        this.filter = filter;
        void this.load();
      }),
      h(
        'section',
        { 'aria-labelledby': 'tb-users-title', class: 'mb-4' },
        h(
          'div',
          { class: 'd-flex justify-content-between align-items-center' },
          h('h2', { id: 'tb-users-title', class: 'h4' }, 'Users'),
          refresh
        ),
        this.users
      ),
      h(
        'section',
        { 'aria-labelledby': 'tb-audit-title' },
        h('h2', { id: 'tb-audit-title', class: 'h4' }, 'Audit trail'),
        this.auditScope,
        this.audit
      )
    );
  }

  /** Loads the users and the audit trail (both at once; each shows its own failure). */
  async load(): Promise<void> {
    this.showProblem(null);
    await Promise.all([this.loadUsers(), this.loadAudit()]);
  }

  private async loadUsers(): Promise<void> {
    this.users.setAttribute('aria-busy', 'true');
    try {
      const { users } = await this.api.listUsers(this.filter);
      this.users.replaceChildren(
        usersTable(users, (user, provider) => this.revoke(user, provider), Date.now())
      );
    } catch (error) {
      this.users.replaceChildren();
      this.showProblem(error);
    } finally {
      this.users.setAttribute('aria-busy', 'false');
    }
  }

  private async loadAudit(): Promise<void> {
    // The audit API filters by one user; with any other filter the page shows every event.
    const user = this.filter.users.length === 1 ? this.filter.users[0] : null;
    this.auditScope.textContent = user
      ? `Newest first, events about ${user}.`
      : `Newest first, the last ${AUDIT_LIMIT} events.`;
    this.audit.setAttribute('aria-busy', 'true');
    try {
      const { events } = await this.api.audit(user, AUDIT_LIMIT);
      this.audit.replaceChildren(auditTable(events));
    } catch (error) {
      this.audit.replaceChildren();
      this.showProblem(error);
    } finally {
      this.audit.setAttribute('aria-busy', 'false');
    }
  }

  private revoke(user: IAdminUser, provider: string | null): void {
    openRevokeDialog(this.api, user, provider, () => void this.load());
  }

  private showProblem(error: unknown): void {
    if (error === null) {
      this.problem.textContent = '';
      this.problem.classList.add('d-none');
      return;
    }
    this.problem.textContent = explain(error);
    this.problem.classList.remove('d-none');
  }
}
