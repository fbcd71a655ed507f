/**
 * One provider's card in the Token Broker panel: title, sign-in state, account, scopes, the expiry
 * countdown, the token's claims, and the sign-in / sign-out / copy / snippet buttons. Plain DOM,
 * updated in place so focus survives refreshes.
 */
import { ClaimsView, type TokenSource } from './claimsView';
import { expiryText, isExpired } from './expiry';
import type { IProviderError, IProviderInfo } from './tokens';

/**
 * What the card's buttons do. `signIn` is called synchronously in the click handler, so it can open
 * the login popup.
 */
export interface IProviderCardActions {
  /** Sign in to the provider. */
  signIn(provider: IProviderInfo): void;
  /** Sign out of the provider. */
  signOut(provider: IProviderInfo): void;
  /** Copy an Authorization header for the provider. */
  copyHeader(provider: IProviderInfo): void;
  /** Insert a code snippet for the provider into the active notebook. */
  insertSnippet(provider: IProviderInfo): void;
  /** The provider's current access token, to decode its claims (never shown itself). */
  token(provider: IProviderInfo): Promise<string | undefined>;
}

/**
 * The card of one provider.
 */
export class ProviderCard {
  /** The card's root element. */
  readonly node: HTMLElement;
  private _info: IProviderInfo;
  private _actionError: IProviderError | null = null;
  private _busy: string | null = null;
  /** A sign-in that another plugin or command started is running (its login window is open). */
  private _signingInElsewhere = false;
  /** Whether this card has shown an access token since the last sign-in, so a missing one has expired. */
  private _hadToken = false;
  /** The expiry for which a refresh was already requested, so an expired token asks only once. */
  private _expiredReported: number | null = null;
  private readonly _title: HTMLElement;
  private readonly _state: HTMLElement;
  private readonly _scopes: HTMLElement;
  private readonly _expiry: HTMLElement;
  private readonly _error: HTMLElement;
  private readonly _signIn: HTMLButtonElement;
  private readonly _signOut: HTMLButtonElement;
  private readonly _copy: HTMLButtonElement;
  private readonly _snippet: HTMLButtonElement;
  private readonly _claims: ClaimsView;

  /**
   * @param info - the provider as the broker reports it.
   * @param actions - what the buttons do.
   */
  constructor(info: IProviderInfo, actions: IProviderCardActions) {
    this._info = info;
    this.node = element('section', 'jp-TokenBroker-card');
    this._title = element('h3', 'jp-TokenBroker-cardTitle');
    this._title.id = `jp-TokenBroker-${info.id}-title`;
    this.node.setAttribute('aria-labelledby', this._title.id);
    this._state = element('p', 'jp-TokenBroker-state');
    this._scopes = element('p', 'jp-TokenBroker-scopes');
    this._expiry = element('p', 'jp-TokenBroker-expiry');
    this._expiry.setAttribute('aria-live', 'off');
    this._error = element('p', 'jp-TokenBroker-error');
    this._error.setAttribute('role', 'alert');
    const buttons = element('div', 'jp-TokenBroker-actions');
    this._signIn = button('Sign in', 'jp-mod-accept', () => actions.signIn(this._info));
    this._signOut = button('Sign out', 'jp-mod-warn', () => actions.signOut(this._info));
    this._copy = button('Copy header', 'jp-mod-reject', () => actions.copyHeader(this._info));
    this._snippet = button('Insert snippet', 'jp-mod-reject', () =>
      actions.insertSnippet(this._info)
    );
    buttons.append(this._signIn, this._copy, this._snippet, this._signOut);
    const token: TokenSource = () => actions.token(this._info);
    this._claims = new ClaimsView(info.title, token);
    this.node.append(
      this._title,
      this._state,
      this._scopes,
      this._expiry,
      this._error,
      this._claims.node,
      buttons
    );
    this._render();
  }

  /** The provider this card shows. */
  get info(): IProviderInfo {
    return this._info;
  }

  /**
   * Shows a newer state of the provider.
   *
   * @param info - the provider as the broker now reports it.
   */
  update(info: IProviderInfo): void {
    const before = this._info;
    if (
      before.signedIn !== info.signedIn ||
      before.needsLogin !== info.needsLogin ||
      before.account !== info.account
    ) {
      // The sign-in state moved on (perhaps through a command, not this card): an older action's
      // error no longer applies.
      this._actionError = null;
    }
    this._info = info;
    this._render();
  }

  /**
   * Marks an action as running (buttons disabled, the text shown as state) or finished (`null`).
   *
   * @param text - e.g. `Signing in…`, or `null`.
   */
  setBusy(text: string | null): void {
    this._busy = text;
    if (text !== null) {
      this._actionError = null;
    }
    this._render();
  }

  /**
   * Marks a sign-in that another plugin or command started as running (Sign in disabled, the state says so)
   * or finished.
   *
   * @param running - whether the broker is signing in to this provider.
   */
  setSigningIn(running: boolean): void {
    if (running !== this._signingInElsewhere) {
      this._signingInElsewhere = running;
      this._render();
    }
  }

  /**
   * Shows the error of the last action, or clears it.
   *
   * @param error - a code and description, or `null`.
   */
  setError(error: IProviderError | null): void {
    this._actionError = error;
    this._render();
  }

  /**
   * Updates the countdown.
   *
   * @param nowMs - the current time in ms since the epoch.
   * @returns `true` once per expiry when the cached token has just run out (time to re-fetch).
   */
  tick(nowMs: number): boolean {
    const { expiresAt, signedIn, needsLogin } = this._info;
    if (!signedIn || needsLogin) {
      this._hadToken = false;
      this._expiry.hidden = true;
      this._expiry.textContent = '';
      return false;
    }
    this._hadToken ||= expiresAt !== null;
    this._expiry.hidden = false;
    this._expiry.textContent = expiryText(expiresAt, nowMs, this._hadToken);
    // A re-fetch before the broker's own instant would see the same state and never ask again.
    if (expiresAt === null || !isExpired(expiresAt, nowMs) || this._expiredReported === expiresAt) {
      return false;
    }
    this._expiredReported = expiresAt;
    return true;
  }

  private _render(): void {
    const info = this._info;
    const active = info.signedIn && !info.needsLogin;
    this._title.textContent = info.title;
    const busy =
      this._busy ?? (this._signingInElsewhere ? 'Signing in… finish in the login window' : null);
    this._state.textContent = busy ?? stateText(info);
    this.node.classList.toggle('jp-mod-signedIn', active);
    this._scopes.textContent = info.scopes.length > 0 ? `Scopes: ${info.scopes.join(' ')}` : '';
    this._scopes.hidden = info.scopes.length === 0;

    const error = this._actionError ?? info.error ?? null;
    this._error.hidden = error === null;
    this._error.textContent = error ? `${error.description} (${error.code})` : '';
    this.node.classList.toggle('jp-mod-error', error !== null);

    // The JupyterHub login (kind `hub`) is signed in and out at the hub, never here.
    const hubLogin = info.kind === 'hub';
    this._signIn.hidden = active || hubLogin;
    this._signOut.hidden = !info.signedIn || hubLogin;
    // A provider that hands out no tokens (only its egress uses them) has none to copy or decode.
    this._copy.hidden = !active || !info.exposeToken;
    this._signIn.setAttribute('aria-label', `Sign in to ${info.title}`);
    this._signOut.setAttribute('aria-label', `Sign out of ${info.title}`);
    this._copy.setAttribute('aria-label', `Copy Authorization header for ${info.title}`);
    this._snippet.setAttribute('aria-label', `Insert a code snippet for ${info.title}`);
    this._claims.node.hidden = !active || !info.exposeToken;
    if (active && info.exposeToken) {
      this._claims.setExpiry(info.expiresAt);
    } else {
      this._claims.reset();
    }
    for (const b of [this._signIn, this._signOut, this._copy, this._snippet]) {
      b.disabled = busy !== null;
    }
  }
}

/** The sign-in state in words. */
function stateText(info: IProviderInfo): string {
  if (info.kind === 'hub') {
    return info.needsLogin
      ? 'JupyterHub login ended: log in to JupyterHub again'
      : `Your JupyterHub login${info.account ? ` (${info.account})` : ''}`;
  }
  if (info.signedIn && info.needsLogin) {
    return 'Sign-in expired: sign in again';
  }
  if (info.signedIn) {
    return info.account ? `Signed in as ${info.account}` : 'Signed in';
  }
  return 'Not signed in';
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function button(label: string, modifier: string, onClick: () => void): HTMLButtonElement {
  const node = element('button', `jp-Button jp-mod-styled jp-TokenBroker-button ${modifier}`);
  node.type = 'button';
  node.textContent = label;
  node.addEventListener('click', onClick);
  return node;
}
