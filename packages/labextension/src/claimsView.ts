/**
 * The "Claims (unverified)" section of a provider card: a collapsed `<details>` that, when opened,
 * asks for the provider's current token, decodes it in memory and shows only its claims. The token
 * string itself never reaches the DOM.
 */
import { describeError } from './errors';
import { decodeClaims, type IClaim } from './jwtClaims';

/**
 * Fetches the current access token of the card's provider, or `undefined` when not signed in.
 * The caller uses it only to decode claims and drops it.
 */
export type TokenSource = () => Promise<string | undefined>;

/**
 * The claims section of one card.
 */
export class ClaimsView {
  /** The `<details>` element. */
  readonly node: HTMLDetailsElement;
  private readonly _content: HTMLElement;
  private readonly _load: TokenSource;
  private _shownFor: number | null | undefined = undefined;
  private _expiresAt: number | null = null;
  private _loading = 0;

  /**
   * @param providerTitle - the provider's title, for the accessible summary.
   * @param load - where the token comes from.
   */
  constructor(providerTitle: string, load: TokenSource) {
    this._load = load;
    this.node = document.createElement('details');
    this.node.className = 'jp-TokenBroker-claims';
    const summary = document.createElement('summary');
    summary.textContent = 'Claims (unverified)';
    summary.setAttribute('aria-label', `Claims of the ${providerTitle} access token (unverified)`);
    this._content = document.createElement('div');
    this._content.className = 'jp-TokenBroker-claimsContent';
    this.node.append(summary, this._content);
    this.node.addEventListener('toggle', () => {
      if (this.node.open) {
        void this._show();
      }
    });
  }

  /**
   * Tells the view the expiry of the provider's cached token: an open view re-reads the claims
   * when the token changed.
   *
   * @param expiresAt - seconds since the epoch, or `null`.
   */
  setExpiry(expiresAt: number | null): void {
    this._expiresAt = expiresAt;
    if (this.node.open && this._shownFor !== expiresAt) {
      void this._show();
    }
  }

  /** Closes the section and forgets the claims shown (e.g. after sign-out). */
  reset(): void {
    this.node.open = false;
    this._shownFor = undefined;
    this._content.replaceChildren();
  }

  private async _show(): Promise<void> {
    const run = ++this._loading;
    this._shownFor = this._expiresAt;
    this._content.replaceChildren(text('p', 'Reading the token…'));
    let claims: ReadonlyArray<IClaim> | null | undefined;
    try {
      const token = await this._load();
      claims = token === undefined ? undefined : decodeClaims(token);
    } catch (error) {
      if (run === this._loading) {
        const { code, description } = describeError(error);
        this._content.replaceChildren(
          text('p', `${description} (${code})`, 'jp-TokenBroker-error')
        );
      }
      return;
    }
    if (run !== this._loading) {
      return;
    }
    if (claims === undefined) {
      this._content.replaceChildren(text('p', 'Sign in to see the claims.'));
    } else if (claims === null) {
      this._content.replaceChildren(
        text('p', 'The access token is opaque (not a JWT): it has no claims to show.')
      );
    } else {
      this._content.replaceChildren(
        text('p', 'Decoded without checking the signature.', 'jp-TokenBroker-note'),
        claimList(claims)
      );
    }
  }
}

function claimList(claims: ReadonlyArray<IClaim>): HTMLElement {
  const list = document.createElement('dl');
  list.className = 'jp-TokenBroker-claimList';
  for (const claim of claims) {
    list.append(text('dt', claim.name), text('dd', claim.value));
  }
  return list;
}

function text(tag: string, content: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  node.textContent = content;
  if (className) {
    node.className = className;
  }
  return node;
}
