/**
 * The token picker: a dialog to choose a provider and the scopes of the token.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type { IPickOptions, IPickResult, IProviderInfo } from './tokens';

/**
 * A button of the picker that accepts the choice; `id` tells the caller which one was pressed.
 */
export interface IPickerAction {
  /** The button label, e.g. `Copy header`. */
  readonly label: string;
  /** What the caller does with the choice. */
  readonly id: string;
}

/** The default accept button of the picker. */
export const USE_TOKEN: IPickerAction = { label: 'Use token', id: 'use' };

/**
 * Opens the token picker.
 *
 * @param providers - the providers to offer (at least one).
 * @param options - title and initial selection; `defaultProvider` is the person's setting.
 * @param actions - the accept buttons, the last one the default.
 * @returns the choice and the button pressed, or `null` when cancelled.
 *
 * @example
 * ```ts
 * const picked = await showTokenPicker(await broker.providers(), {}, [USE_TOKEN]);
 * if (picked) {
 *   await tokens.getSession(picked.choice.provider, picked.choice.scopes, { createIfNone: true });
 * }
 * ```
 */
export async function showTokenPicker(
  providers: ReadonlyArray<IProviderInfo>,
  options: IPickOptions & { readonly defaultProvider?: string },
  actions: ReadonlyArray<IPickerAction> = [USE_TOKEN]
): Promise<{ choice: IPickResult; action: string } | null> {
  const title = options.title ?? 'Choose a token';
  const body = new TokenPickerBody(providers, options);
  const dialog = new Dialog<IPickResult>({
    title,
    body,
    buttons: [
      Dialog.cancelButton(),
      ...actions.map((a, i) =>
        Dialog.createButton({
          label: a.label,
          accept: true,
          className: i === actions.length - 1 ? 'jp-mod-accept' : '',
          actions: [a.id]
        })
      )
    ],
    focusNodeSelector: 'select'
  });
  dialog.node.setAttribute('aria-label', title);
  dialog.addClass('jp-TokenBroker-pickerDialog');
  const result = await dialog.launch();
  const action = actions.find(a => result.button.actions.includes(a.id));
  if (!result.button.accept || !action || !result.value) {
    return null;
  }
  return { choice: result.value, action: action.id };
}

/**
 * The picker's body: a provider list and one checkbox per scope. Accepting needs at least one
 * scope (the dialog disables its accept buttons while the form is `:invalid`).
 */
export class TokenPickerBody extends Widget implements Dialog.IBodyWidget<IPickResult> {
  private readonly _providers: ReadonlyArray<IProviderInfo>;
  private readonly _select: HTMLSelectElement;
  private readonly _state: HTMLElement;
  private readonly _scopes: HTMLFieldSetElement;
  private readonly _initialScopes: ReadonlyArray<string> | undefined;

  /**
   * @param providers - the providers to offer (at least one).
   * @param options - initial selection.
   */
  constructor(
    providers: ReadonlyArray<IProviderInfo>,
    options: IPickOptions & { readonly defaultProvider?: string }
  ) {
    super();
    this.addClass('jp-TokenBroker-picker');
    this._providers = providers;
    this._initialScopes = options.scopes;

    const label = document.createElement('label');
    label.className = 'jp-TokenBroker-pickerField';
    label.textContent = 'Provider';
    this._select = document.createElement('select');
    this._select.className = 'jp-mod-styled';
    for (const provider of providers) {
      const option = document.createElement('option');
      option.value = provider.id;
      option.textContent = provider.title;
      this._select.append(option);
    }
    const wanted = options.provider ?? options.defaultProvider;
    if (wanted && providers.some(p => p.id === wanted)) {
      this._select.value = wanted;
    }
    label.append(this._select);

    this._state = document.createElement('p');
    this._state.className = 'jp-TokenBroker-pickerState';
    this._scopes = document.createElement('fieldset');
    this._scopes.className = 'jp-TokenBroker-pickerScopes';
    this.node.append(label, this._state, this._scopes);

    this._select.addEventListener('change', () => this._renderProvider(undefined));
    this._scopes.addEventListener('input', () => this._validate());
    this._renderProvider(this._initialScopes);
  }

  /** The chosen provider and scopes (empty when every scope is kept: the default token). */
  getValue(): IPickResult {
    const provider = this._current();
    const checked = this._checkboxes()
      .filter(box => box.checked)
      .map(box => box.value);
    const all = checked.length === provider.scopes.length;
    return Object.freeze({ provider: provider.id, scopes: Object.freeze(all ? [] : checked) });
  }

  private _current(): IProviderInfo {
    return this._providers.find(p => p.id === this._select.value) ?? this._providers[0];
  }

  private _checkboxes(): HTMLInputElement[] {
    return Array.from(this._scopes.querySelectorAll('input[type="checkbox"]'));
  }

  private _renderProvider(initialScopes: ReadonlyArray<string> | undefined): void {
    const provider = this._current();
    this._state.textContent =
      provider.signedIn && !provider.needsLogin
        ? provider.account
          ? `Signed in as ${provider.account}`
          : 'Signed in'
        : 'Not signed in: you will sign in after choosing';
    const legend = document.createElement('legend');
    legend.textContent = 'Scopes';
    this._scopes.replaceChildren(legend);
    // A provider that refuses narrowed tokens hands out its sign-in's token only: every scope, fixed.
    const fixed = provider.narrowing === 'refuse';
    for (const scope of provider.scopes) {
      const row = document.createElement('label');
      row.className = 'jp-TokenBroker-pickerScope';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = scope;
      box.checked =
        fixed || !initialScopes || initialScopes.length === 0 || initialScopes.includes(scope);
      box.disabled = fixed;
      row.append(box, scope);
      this._scopes.append(row);
    }
    if (fixed && provider.scopes.length > 0) {
      const note = document.createElement('p');
      note.textContent =
        "This provider hands out only its sign-in's token, with all of these scopes.";
      this._scopes.append(note);
    }
    if (provider.scopes.length === 0) {
      const none = document.createElement('p');
      none.textContent = 'The provider lists no scopes: its default token is used.';
      this._scopes.append(none);
    }
    this._validate();
  }

  /** Marks the form invalid while scopes are listed but none is checked. */
  private _validate(): void {
    const boxes = this._checkboxes();
    const invalid = boxes.length > 0 && !boxes.some(box => box.checked);
    boxes[0]?.setCustomValidity(invalid ? 'Choose at least one scope.' : '');
    // The dialog re-checks `:invalid` on input events; a provider change is one too.
    this.node.dispatchEvent(new Event('input', { bubbles: true }));
  }
}
