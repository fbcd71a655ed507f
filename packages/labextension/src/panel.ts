/**
 * The Token Broker panel of the left sidebar: one card per provider, the extensions' access
 * decisions and the recent audit trail, kept current from the public {@link ITokenBroker} service
 * exactly as a third-party plugin would use it.
 */
import { Notification } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { ActivityList } from './activityList';
import { writeSystemClipboard } from './clipboard';
import { ConsentList } from './consentList';
import { copiedMessage, copyAuthorizationHeader } from './copyHeader';
import { describeError } from './errors';
import { keyIcon } from './icon';
import { ProviderCard } from './providerCard';
import { type ISharedVisit, ownerOnlyText } from './sharedVisit';
import { signOutMessage } from './signOutMessage';
import {
  CommandIDs,
  FIRST_PARTY_CLIENT,
  type IConsent,
  type IProviderInfo,
  type ITokenBroker,
  type ITokenBrokerClient
} from './tokens';

/** How long the copy notification stays, in ms. */
const NOTIFICATION_MS = 10000;

/** How long the sign-out notification stays, in ms (as the sign-out command's). */
const SIGNED_OUT_MS = 4000;

/** How many audit events the panel shows. */
const EVENT_COUNT = 10;

/**
 * Construction options of {@link TokenBrokerPanel}.
 */
export interface ITokenBrokerPanelOptions {
  /** The token broker service. */
  readonly broker: ITokenBroker;
  /** The application's commands, for the picker and snippet buttons; without them those hide. */
  readonly commands?: CommandRegistry;
  /** The clock in ms since the epoch, for the countdown; `Date.now` by default. */
  readonly now?: () => number;
  /** A visit to someone else's server through JupyterHub sharing: the panel shows "owner only". */
  readonly visit?: ISharedVisit | null;
}

/**
 * The Token Broker sidebar panel.
 *
 * @example
 * ```ts
 * const panel = new TokenBrokerPanel({ broker });
 * app.shell.add(panel, 'left', { rank: 900 });
 * ```
 */
export class TokenBrokerPanel extends Widget {
  private readonly _broker: ITokenBroker;
  private readonly _tokens: ITokenBrokerClient;
  private readonly _commands: CommandRegistry | undefined;
  private readonly _consents: ConsentList;
  private readonly _activity: ActivityList;
  private readonly _now: () => number;
  private readonly _visit: ISharedVisit | null;
  private readonly _cards = new Map<string, ProviderCard>();
  private readonly _list: HTMLElement;
  private readonly _status: HTMLElement;
  private readonly _alert: HTMLElement;
  private _timer: ReturnType<typeof setInterval> | null = null;
  private _refreshing: Promise<void> | null = null;
  private _refreshAgain = false;

  /**
   * @param options - the broker and seams.
   */
  constructor(options: ITokenBrokerPanelOptions) {
    super();
    this._broker = options.broker;
    this._tokens = options.broker.forClient(FIRST_PARTY_CLIENT);
    this._commands = options.commands;
    this._now = options.now ?? Date.now;
    this._visit = options.visit ?? null;
    this.id = 'jp-TokenBroker-panel';
    this.addClass('jp-TokenBroker');
    this.title.icon = keyIcon;
    this.title.caption = 'Token Broker';
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Token Broker');

    const header = document.createElement('header');
    header.className = 'jp-TokenBroker-header';
    const heading = document.createElement('h2');
    heading.className = 'jp-TokenBroker-heading';
    heading.textContent = 'Token Broker';
    const reload = document.createElement('button');
    reload.type = 'button';
    reload.className = 'jp-TokenBroker-refresh jp-Button jp-mod-minimal';
    reload.setAttribute('aria-label', 'Refresh Token Broker providers');
    reload.title = 'Refresh';
    refreshIcon.element({ container: reload, tag: 'span' });
    reload.addEventListener('click', () => void this.refresh());
    const pick = document.createElement('button');
    pick.type = 'button';
    pick.className =
      'jp-Button jp-mod-styled jp-mod-reject jp-TokenBroker-button jp-TokenBroker-pick';
    pick.textContent = 'Choose a token…';
    pick.setAttribute('aria-label', 'Open the token picker');
    pick.hidden = !this._commands;
    pick.addEventListener('click', () => void this._commands?.execute(CommandIDs.pick));
    const tools = document.createElement('div');
    tools.className = 'jp-TokenBroker-tools';
    tools.append(pick, reload);
    header.append(heading, tools);

    this._status = document.createElement('p');
    this._status.className = 'jp-TokenBroker-status';
    this._status.setAttribute('role', 'status');
    this._status.textContent = 'Loading providers…';
    this._alert = document.createElement('p');
    this._alert.className = 'jp-TokenBroker-error';
    this._alert.setAttribute('role', 'alert');
    this._alert.hidden = true;
    this._list = document.createElement('div');
    this._list.className = 'jp-TokenBroker-list';
    this._consents = new ConsentList(consent => this._withdraw(consent));
    this._activity = new ActivityList();
    this.node.append(
      header,
      this._status,
      this._alert,
      this._list,
      this._consents.node,
      this._activity.node
    );

    this._broker.sessionsChanged.connect(() => void this.refresh(), this);
  }

  /**
   * Re-reads the provider list. Calls while one is running coalesce into one more read.
   *
   * @returns resolves when the panel shows the newest list (errors are shown, not thrown).
   */
  refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = (async () => {
      do {
        this._refreshAgain = false;
        await this._load();
      } while (this._refreshAgain && !this.isDisposed);
    })().finally(() => {
      this._refreshing = null;
    });
    return this._refreshing;
  }

  /** Stops the countdown and disconnects from the broker. */
  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stopTimer();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._startTimer();
      void this.refresh();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopTimer();
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._startTimer();
    void this.refresh();
  }

  protected onBeforeHide(msg: Message): void {
    this._stopTimer();
    super.onBeforeHide(msg);
  }

  private async _load(): Promise<void> {
    if (this._visit) {
      // The broker answers a visitor 403 on every route: say why once instead of failing each time.
      this._status.textContent = ownerOnlyText(this._visit);
      this._status.hidden = false;
      this.addClass('jp-mod-ownerOnly');
      return;
    }
    let providers: ReadonlyArray<IProviderInfo>;
    try {
      providers = await this._broker.providers();
    } catch (error) {
      const { code, description } = describeError(error);
      // A refused config is not a passing failure: its description says what to fix, so it stands alone.
      this._alert.textContent =
        code === 'config_error'
          ? `${description} (${code})`
          : `Cannot list providers: ${description} (${code})`;
      this._alert.hidden = false;
      this._status.hidden = true;
      return;
    }
    this._alert.hidden = true;
    this._status.hidden = providers.length > 0;
    this._status.textContent = 'No identity providers are configured.';
    this._sync(providers);
    this._tick();
    const titleOf = (id: string): string => providers.find(p => p.id === id)?.title ?? id;
    await Promise.all([
      this._broker.consents().then(
        consents => this._consents.render(consents, titleOf),
        error => this._consents.showError(sectionError('Cannot list decisions', error))
      ),
      this._broker.events({ limit: EVENT_COUNT }).then(
        events => this._activity.render(events),
        error => this._activity.showError(sectionError('Cannot read the audit trail', error))
      )
    ]);
  }

  /** Adds, updates, reorders and removes cards to match the list. */
  private _sync(providers: ReadonlyArray<IProviderInfo>): void {
    const seen = new Set<string>();
    for (const info of providers) {
      seen.add(info.id);
      let card = this._cards.get(info.id);
      if (card) {
        card.update(info);
      } else {
        card = new ProviderCard(info, {
          signIn: p => this._signIn(p),
          signOut: p => this._signOut(p),
          copyHeader: p => this._copyHeader(p),
          insertSnippet: p => this._insertSnippet(p),
          token: async p => (await this._tokens.getSession(p.id, [], { silent: true }))?.accessToken
        });
        this._cards.set(info.id, card);
      }
      // A sign-in started elsewhere (a plugin, a command) disables this card's buttons too.
      card.setSigningIn(this._broker.signingIn(info.id));
      // Appending an element already in place moves it; this keeps the broker's order.
      this._list.append(card.node);
    }
    for (const [id, card] of this._cards) {
      if (!seen.has(id)) {
        card.node.remove();
        this._cards.delete(id);
      }
    }
  }

  private _signIn(info: IProviderInfo): void {
    // Called straight from the click: signIn opens the popup before anything is awaited.
    const done = this._tokens.signIn(info.id);
    this._run(info, 'Signing in… finish in the login window', done);
  }

  private _signOut(info: IProviderInfo): void {
    const done = this._tokens.signOut(info.id).then(result => {
      // A sign-out the identity provider did not revoke says so, and stays until read.
      const message = signOutMessage(info.title, result);
      if (message.warning) {
        Notification.warning(message.text, { autoClose: false });
      } else {
        Notification.info(message.text, { autoClose: SIGNED_OUT_MS });
      }
    });
    this._run(info, 'Signing out…', done);
  }

  private _insertSnippet(info: IProviderInfo): void {
    const done = this._commands
      ? this._commands
          .execute(CommandIDs.insertSnippet, { provider: info.id })
          .then(() => undefined)
      : Promise.resolve();
    this._run(info, 'Inserting a snippet…', done);
  }

  private _withdraw(consent: IConsent): void {
    this._broker.withdrawConsent(consent.client, consent.provider).then(
      () => void this.refresh(),
      error => {
        const { code, description } = describeError(error);
        Notification.error(`Cannot withdraw: ${description} (${code})`, { autoClose: 8000 });
        void this.refresh();
      }
    );
  }

  private _copyHeader(info: IProviderInfo): void {
    const done = copyAuthorizationHeader(this._tokens, info.id, {
      clipboard: writeSystemClipboard,
      now: this._now
    }).then(expiresIn => {
      Notification.success(copiedMessage(info.title, expiresIn), { autoClose: NOTIFICATION_MS });
    });
    this._run(info, 'Fetching a fresh token…', done);
  }

  /** Shows an action as running on its card, then its error if any, then refreshes. */
  private _run(info: IProviderInfo, busyText: string, action: Promise<void>): void {
    const card = this._cards.get(info.id);
    card?.setBusy(busyText);
    action
      .then(
        () => card?.setError(null),
        error => card?.setError(describeError(error))
      )
      .finally(() => {
        card?.setBusy(null);
        void this.refresh();
      });
  }

  private _tick(): void {
    const now = this._now();
    let expired = false;
    for (const card of this._cards.values()) {
      expired = card.tick(now) || expired;
    }
    if (expired) {
      void this.refresh();
    }
  }

  private _startTimer(): void {
    if (this._timer === null) {
      this._timer = setInterval(() => this._tick(), 1000);
    }
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      clearInterval(this._timer);
      this._timer = null;
    }
  }
}

/** A section's error line; a broker without the route says `not_found`. */
function sectionError(what: string, error: unknown): string {
  const { code, description } = describeError(error);
  return code === 'not_found'
    ? `${what}: this token broker does not offer it.`
    : `${what}: ${description} (${code})`;
}
