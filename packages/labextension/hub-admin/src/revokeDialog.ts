/**
 * The revoke dialog: which provider, a required reason, force; then the per-step outcome.
 * It is the confirmation: nothing is sent before its Revoke button.
 */
import type { AdminApi } from './api';
import { badge, h } from './element';
import { AdminRequestError, explain } from './errors';
import { serverLabel } from './usersTable';
import {
  HUB_PROVIDER,
  MAX_REASON_LENGTH,
  type IAdminUser,
  type IRevokeResult,
  type IRevokeStep,
  type StepOutcome
} from './wire';

/**
 * Opens the dialog for one user.
 *
 * @param api - the admin API.
 * @param user - whom to revoke.
 * @param provider - the provider to preselect (`null`: everything).
 * @param onRevoked - called after an answer from the API (the list and the audit trail change).
 * @returns the dialog, open (removed from the page when closed).
 */
export function openRevokeDialog(
  api: AdminApi,
  user: IAdminUser,
  provider: string | null,
  onRevoked: () => void
): HTMLDialogElement {
  const titleId = 'tb-revoke-title';
  const choice = h(
    'select',
    { id: 'tb-revoke-provider', class: 'form-select', name: 'provider' },
    h('option', { value: '' }, 'Everything: the hub login and every provider'),
    h('option', { value: HUB_PROVIDER }, 'The hub login only'),
    ...providerChoices(user).map(([id, title]) => h('option', { value: id }, `${title} (${id})`))
  );
  choice.value = provider ?? '';
  const reason = h('textarea', {
    id: 'tb-revoke-reason',
    class: 'form-control',
    name: 'reason',
    rows: 3,
    required: true,
    maxlength: MAX_REASON_LENGTH,
    placeholder: 'e.g. notebook with a leaked token shared publicly'
  });
  const force = h('input', {
    id: 'tb-revoke-force',
    class: 'form-check-input',
    type: 'checkbox',
    name: 'force'
  });
  const summary = h('p', { class: 'mb-0' });
  const problem = h('div', { class: 'alert alert-danger d-none', role: 'alert' });
  const stepsOfFailure = h('div', {});
  const cancel = h('button', { type: 'button', class: 'btn btn-secondary' }, 'Cancel');
  const confirm = h('button', { type: 'submit', class: 'btn btn-danger' }, 'Revoke');
  const body = h(
    'div',
    { class: 'modal-body' },
    h(
      'div',
      { class: 'mb-3' },
      h('label', { for: choice.id, class: 'form-label' }, 'What to revoke'),
      choice
    ),
    h(
      'div',
      { class: 'mb-3' },
      h('label', { for: reason.id, class: 'form-label' }, 'Reason'),
      reason,
      h(
        'div',
        { class: 'form-text' },
        `Required, up to ${MAX_REASON_LENGTH} characters; recorded in the audit trail.`
      )
    ),
    h(
      'div',
      { class: 'form-check mb-3' },
      force,
      h(
        'label',
        { for: force.id, class: 'form-check-label' },
        'Force: forget the tokens even if the identity provider cannot be reached (its revocation is queued and retried)'
      )
    ),
    h('div', { class: 'alert alert-warning' }, summary),
    problem,
    stepsOfFailure
  );
  const footer = h('div', { class: 'modal-footer' }, cancel, confirm);
  const form = h(
    'form',
    { class: 'modal-content', method: 'dialog', novalidate: true },
    h(
      'div',
      { class: 'modal-header' },
      h('h2', { class: 'modal-title h5', id: titleId }, `Revoke tokens of ${user.name}`),
      closeButton()
    ),
    body,
    footer
  );
  const dialog = h(
    'dialog',
    { class: 'token-broker-dialog', 'aria-labelledby': titleId },
    h('div', { class: 'modal-dialog modal-lg m-0' }, form)
  );

  const describe = (): void => {
    summary.textContent = consequences(user, choice.value || null);
  };
  describe();
  choice.addEventListener('change', describe);
  // The "give a reason" warning goes as soon as there is one, not only at the next submit.
  reason.addEventListener('input', () => {
    if (reason.value.trim() === '' || !reason.classList.contains('is-invalid')) return;
    reason.classList.remove('is-invalid');
    hideProblem(problem);
  });
  cancel.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());

  form.addEventListener('submit', event => {
    event.preventDefault();
    const text = reason.value.trim();
    if (text === '') {
      reason.classList.add('is-invalid');
      showProblem(problem, 'Give a reason: it is recorded in the audit trail.');
      reason.focus();
      return;
    }
    reason.classList.remove('is-invalid');
    confirm.disabled = true;
    confirm.textContent = 'Revoking…';
    hideProblem(problem);
    api
      .revoke(user.name, { provider: choice.value || null, reason: text, force: force.checked })
      .then(result => {
        body.replaceChildren(outcomeView(result));
        const close = h('button', { type: 'button', class: 'btn btn-primary' }, 'Done');
        close.addEventListener('click', () => dialog.close());
        footer.replaceChildren(close);
        close.focus();
        onRevoked();
      })
      .catch((error: unknown) => {
        confirm.disabled = false;
        confirm.textContent = 'Revoke';
        showProblem(problem, failureText(error));
        // A refused revocation still says which steps ran (e.g. the IdP's, failed): show them.
        const partial = error instanceof AdminRequestError ? revokeResultOf(error.answer) : null;
        stepsOfFailure.replaceChildren(...(partial ? [outcomeView(partial)] : []));
        onRevoked();
      });
  });

  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/** The broker providers the user's running servers listed (one entry per id), without the hub login. */
function providerChoices(user: IAdminUser): Array<readonly [string, string]> {
  const seen = new Map<string, string>();
  for (const server of user.servers) {
    for (const provider of server.providers ?? []) {
      if (provider.id !== HUB_PROVIDER && !seen.has(provider.id)) {
        seen.set(provider.id, provider.title);
      }
    }
  }
  return [...seen.entries()];
}

function consequences(user: IAdminUser, provider: string | null): string {
  const name = user.name;
  if (provider === null) {
    return (
      `${name}'s hub login is revoked at the identity provider and forgotten by the hub (${name} logs in again), ` +
      "and every provider's grants are revoked in every server of theirs: now in running servers, " +
      'at next start in stopped ones.'
    );
  }
  if (provider === HUB_PROVIDER) {
    return `${name}'s hub login is revoked at the identity provider and forgotten by the hub: ${name} logs in again.`;
  }
  return `${name}'s grants of ${provider} are revoked in every server of theirs: now in running servers, at next start in stopped ones.`;
}

function failureText(error: unknown): string {
  if (error instanceof AdminRequestError && error.code === 'upstream_unavailable') {
    return `${explain(error)} Nothing was revoked. Check “Force” to forget the tokens anyway and retry the identity provider later.`;
  }
  return explain(error);
}

/** The per-user answer inside an error answer, when it has one. */
function revokeResultOf(answer: unknown): IRevokeResult | null {
  if (typeof answer !== 'object' || answer === null) {
    return null;
  }
  const candidate = answer as Partial<IRevokeResult>;
  return typeof candidate.user === 'string' &&
    typeof candidate.outcome === 'string' &&
    Array.isArray(candidate.steps)
    ? (candidate as IRevokeResult)
    : null;
}

function outcomeView(result: IRevokeResult): HTMLElement {
  const tone = { ok: 'success', partial: 'warning', error: 'danger' }[result.outcome];
  return h(
    'div',
    { class: 'token-broker-outcome' },
    h(
      'p',
      { role: 'status' },
      `Revocation of ${result.user} (${result.provider ?? 'everything'}): `,
      badge(result.outcome, tone)
    ),
    h(
      'table',
      { class: 'table table-sm mb-0', 'aria-label': 'Revocation steps' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Step'),
          h('th', { scope: 'col' }, 'Outcome'),
          h('th', { scope: 'col' }, 'Details')
        )
      ),
      h('tbody', {}, ...result.steps.map(stepRow))
    )
  );
}

function stepRow(step: IRevokeStep): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-target': step.target },
    h('td', {}, stepLabel(step.target)),
    h('td', {}, badge(step.outcome, STEP_TONES[step.outcome] ?? 'secondary')),
    h(
      'td',
      { class: 'small' },
      [step.description, step.code ? `(${step.code})` : ''].filter(Boolean).join(' ')
    )
  );
}

const STEP_TONES: Readonly<Record<StepOutcome, string>> = {
  ok: 'success',
  error: 'danger',
  skipped: 'secondary',
  queued: 'warning'
};

/**
 * How a step's target reads.
 *
 * @param target - `idp`, `auth_state`, `server:NAME` or `order`.
 * @returns a label for admins.
 */
export function stepLabel(target: string): string {
  if (target === 'idp') {
    return "Identity provider: revoke the hub login's refresh token";
  }
  if (target === 'auth_state') {
    return "Hub: forget the login's tokens";
  }
  if (target === 'order') {
    return 'Order for stopped servers';
  }
  if (target.startsWith('server:')) {
    return `Running ${serverLabel({ name: target.slice('server:'.length) })}: revoke its grants`;
  }
  return target;
}

function closeButton(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'btn-close', 'aria-label': 'Close' });
  button.addEventListener('click', () => button.closest('dialog')?.close());
  return button;
}

function showProblem(element: HTMLElement, text: string): void {
  element.textContent = text;
  element.classList.remove('d-none');
}

function hideProblem(element: HTMLElement): void {
  element.textContent = '';
  element.classList.add('d-none');
}
