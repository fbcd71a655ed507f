/**
 * The Archive Browser panel: one button that lists the archive's items, fetched with the person's token.
 *
 * Everything about tokens is one call, `tokens.fetch(url, { provider, scopes, createIfNone })`: the token
 * broker asks the person whether this plugin may use the provider (the consent dialog), signs them in if
 * needed, adds `Authorization: Bearer …`, and retries once with a newer token if the API answers 401.
 * The panel never sees, stores or logs the token itself.
 */
import type { ITokenBrokerClient } from 'jupyter-token-broker';
import { listIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

/** The settings of the plugin (`schema/plugin.json`). */
export interface IArchiveSettings {
  /**
   * The archive API, e.g. `http://127.0.0.1:9401`; the panel calls `GET <apiUrl>/items`. A relative URL
   * (`proxy/9401`, the API behind jupyter-server-proxy on Binder) is under the Jupyter server's base URL.
   */
  readonly apiUrl: string;
  /** The token broker provider whose tokens the archive accepts, e.g. `demo`. */
  readonly provider: string;
  /** The scopes the archive needs, e.g. `['demo:read']`. */
  readonly scopes: ReadonlyArray<string>;
}

/** One record of the archive, as the demo API's `GET /items` answers it. */
interface IArchiveItem {
  readonly id: string;
  readonly title: string;
  readonly instrument: string;
  readonly date: string;
}

/** The archive answered, but not with items (e.g. it refused the token). */
class ArchiveResponseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string
  ) {
    super(`HTTP ${status} ${code}`);
  }
}

/**
 * The left-sidebar panel of the example plugin.
 *
 * @example
 * ```ts
 * const panel = new ArchivePanel(broker.forClient(plugin.id), () => settings);
 * app.shell.add(panel, 'left', { rank: 950 });
 * ```
 */
export class ArchivePanel extends Widget {
  private readonly _message: HTMLParagraphElement;
  private readonly _list: HTMLUListElement;
  private readonly _button: HTMLButtonElement;

  /**
   * @param tokens - the token broker, as this plugin (its plugin id is what the person allows or denies).
   * @param settings - the current settings.
   * @param serverBaseUrl - the Jupyter server's base URL, against which a relative `apiUrl` is resolved.
   */
  constructor(
    private readonly tokens: ITokenBrokerClient,
    private readonly settings: () => IArchiveSettings,
    private readonly serverBaseUrl: string
  ) {
    super();
    this.id = 'jp-ArchiveBrowser';
    this.addClass('jp-ArchiveBrowser');
    this.title.icon = listIcon;
    this.title.caption = 'Archive Browser';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Archive Browser');

    const heading = document.createElement('h2');
    heading.textContent = 'Archive Browser';
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-Button jp-mod-styled jp-mod-accept';
    this._button.textContent = 'List archive items';
    // Called straight from the click: if a sign-in is needed, its popup must open within the gesture.
    this._button.addEventListener('click', () => void this.listItems());
    this._message = document.createElement('p');
    this._message.className = 'jp-ArchiveBrowser-message';
    this._message.setAttribute('role', 'status');
    this._list = document.createElement('ul');
    this._list.className = 'jp-ArchiveBrowser-items';
    this._list.setAttribute('aria-label', 'Archive items');
    this.node.append(heading, this._button, this._message, this._list);
  }

  /**
   * Fetches `GET <apiUrl>/items` with a token of the configured provider and shows the items, or says
   * clearly why not (denied, not signed in, refused by the archive, unreachable).
   *
   * @returns resolves when the panel shows the outcome; never rejects.
   */
  async listItems(): Promise<void> {
    const { apiUrl, provider, scopes } = this.settings();
    this._button.disabled = true;
    this._show('status', 'Loading the archive…');
    this._list.replaceChildren();
    try {
      const response = await this.tokens.fetch(itemsUrl(apiUrl, this.serverBaseUrl), {
        provider,
        scopes,
        createIfNone: true // sign in first if needed (a dialog, then the IdP's popup)
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new ArchiveResponseError(response.status, String(body.error ?? response.statusText));
      }
      const { items } = (await response.json()) as { items: IArchiveItem[] };
      this._list.replaceChildren(...items.map(renderItem));
      this._show('status', `${items.length} items`);
    } catch (error) {
      this._show('alert', await this._explain(error, provider, apiUrl));
    } finally {
      this._button.disabled = false;
    }
  }

  /** Shows a message: `status` for news, `alert` for a problem (screen readers announce it at once). */
  private _show(role: 'status' | 'alert', text: string): void {
    this._message.setAttribute('role', role);
    this._message.textContent = text;
  }

  /** What went wrong, in words for the person. Branches on stable error codes, never on messages. */
  private async _explain(error: unknown, provider: string, apiUrl: string): Promise<string> {
    if (error instanceof ArchiveResponseError) {
      return `The archive refused the request (HTTP ${error.status}, ${error.code}).`;
    }
    const code = (error as { code?: unknown } | null)?.code;
    const title = await this._providerTitle(provider);
    switch (code) {
      case 'consent_denied':
        return (
          `Access to ${title} was denied for the Archive Browser. To be asked again, withdraw ` +
          'the decision under Extension access in the Token Broker panel.'
        );
      case 'consent_cancelled':
        return `The Archive Browser needs access to ${title}: choose Allow to list the items.`;
      case 'login_required':
      case 'login_cancelled':
      case 'login_timeout':
      case 'login_failed':
        return `Sign in to ${title} to list the archive's items.`;
      case 'popup_blocked':
        return `The sign-in window to ${title} was blocked: allow pop-ups for JupyterLab and try again.`;
      case undefined:
        // fetch itself failed: the archive is down, or it does not allow this origin (CORS).
        return `Could not reach the archive at ${apiUrl}.`;
      default:
        return `Could not get a token from ${title} (${String(code)}).`;
    }
  }

  /** The provider's title (e.g. `Demo IdP`), or its id if the broker cannot say. */
  private async _providerTitle(provider: string): Promise<string> {
    try {
      return (await this.tokens.providers()).find(p => p.id === provider)?.title ?? provider;
    } catch {
      return provider;
    }
  }
}

/**
 * `GET <apiUrl>/items` as an absolute URL.
 *
 * @param apiUrl - the setting: absolute, or relative to the Jupyter server's base URL.
 * @param serverBaseUrl - the Jupyter server's base URL (absolute, or a path on this page's origin).
 * @returns the URL of the items.
 * @example
 * itemsUrl('proxy/9401', 'https://hub.example.org/user/ada/'); // 'https://hub.example.org/user/ada/proxy/9401/items'
 */
export function itemsUrl(apiUrl: string, serverBaseUrl: string): string {
  const base = new URL(serverBaseUrl, window.location.href);
  return new URL(`${apiUrl.replace(/\/+$/, '')}/items`, base).href;
}

/** One list entry: the title, then id, instrument and date. */
function renderItem(item: IArchiveItem): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = item.title;
  const details = document.createElement('small');
  details.textContent = `${item.id} · ${item.instrument} · ${item.date}`;
  li.append(details);
  return li;
}
