/**
 * The filter form: users and groups, by name.
 */
import type { IUserFilter } from './api';
import { h } from './element';

/**
 * Names typed in a filter field: separated by commas or spaces, duplicates dropped.
 *
 * @param text - what the admin typed.
 * @returns the names.
 *
 * @example
 * ```ts
 * names('alice, bob alice'); // ['alice', 'bob']
 * ```
 */
export function names(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(name => name !== ''))];
}

/**
 * The form; submitting it (or clearing it) calls `onChange` with the new filter.
 *
 * @param onChange - called with the filter to apply.
 * @returns the form.
 */
export function filterForm(onChange: (filter: IUserFilter) => void): HTMLFormElement {
  const user = h('input', {
    id: 'tb-filter-user',
    class: 'form-control',
    type: 'search',
    placeholder: 'any user',
    autocomplete: 'off'
  });
  const group = h('input', {
    id: 'tb-filter-group',
    class: 'form-control',
    type: 'search',
    placeholder: 'any group',
    autocomplete: 'off'
  });
  const clear = h('button', { type: 'button', class: 'btn btn-outline-secondary' }, 'Clear');
  const form = h(
    'form',
    { class: 'row g-2 align-items-end mb-3', role: 'search', 'aria-label': 'Filter users' },
    h(
      'div',
      { class: 'col-sm-4' },
      h('label', { for: user.id, class: 'form-label' }, 'User'),
      user
    ),
    h(
      'div',
      { class: 'col-sm-4' },
      h('label', { for: group.id, class: 'form-label' }, 'Group'),
      group
    ),
    h(
      'div',
      { class: 'col-sm-4 d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-jupyter' }, 'Filter'),
      clear
    )
  );
  const current = (): IUserFilter => ({ users: names(user.value), groups: names(group.value) });
  form.addEventListener('submit', event => {
    event.preventDefault();
    onChange(current());
  });
  clear.addEventListener('click', () => {
    user.value = '';
    group.value = '';
    onChange(current());
  });
  return form;
}
