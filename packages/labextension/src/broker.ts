/**
 * The {@link ITokenBroker} implementation: talks to the broker API through the Jupyter server, runs
 * sign-in through the login popup and records consent decisions. It keeps no token: every access
 * token it hands out is fetched for that call and only lives in the returned session object.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { TokenBrokerClient } from './client';
import { CLIENT_LABEL } from './contract.generated';
import { requestEgress } from './egress';
import { ConsentError, SignInError, TokenBrokerError, TokenBrokerRequestError } from './errors';
import { DEFAULT_LOGIN_TIMING, ILoginTiming, LoginHost, LoginPopup } from './loginPopup';
import { requestBroker } from './request';
import {
  FIRST_PARTY_CLIENT,
  type ConsentDecision,
  type IAuditEvent,
  type IConsent,
  type IPickOptions,
  type IPickResult,
  type IProviderInfo,
  type ISession,
  type ISessionsChangeEvent,
  type ISignOutResult,
  type ITokenBroker,
  type ITokenBrokerClient
} from './tokens';
import {
  hasChanged,
  toAuditEvent,
  toConsent,
  toProviderInfo,
  toSession,
  type BrowserLoginAnswer,
  type ConsentRequest,
  type ConsentsAnswer,
  type EventsAnswer,
  type LoginRequest,
  type ProvidersAnswer,
  type Received,
  type SignOutNotice,
  type TokenRequest,
  type TokenWire
} from './wire';

/** How many audit events {@link TokenBroker.events} reads by default. */
const DEFAULT_EVENT_LIMIT = 20;

/**
 * Asks the person whether to sign in, for sign-ins a plugin (`client`, its client label) started through
 * `getSession`. Resolving `true` from a button click keeps the browser's user activation for the popup.
 */
export type ConfirmSignIn = (
  provider: { id: string; title: string },
  client: string
) => Promise<boolean>;

/**
 * Asks the person whether a plugin may use a provider; `null` when they closed the dialog without
 * deciding.
 */
export type AskConsent = (request: {
  client: string;
  provider: { id: string; title: string };
}) => Promise<ConsentDecision | null>;

/**
 * Shows the token picker over the given providers; `null` when the person cancelled.
 */
export type PickToken = (
  providers: ReadonlyArray<IProviderInfo>,
  options: IPickOptions
) => Promise<IPickResult | null>;

/**
 * Construction options of {@link TokenBroker}.
 */
export interface ITokenBrokerOptions {
  /** The Jupyter server connection settings (`app.serviceManager.serverSettings`). */
  readonly serverSettings: ServerConnection.ISettings;
  /** The window that opens login popups and receives their messages; `window` by default. */
  readonly host?: LoginHost;
  /** Asked before a `getSession({createIfNone | forceNewSession})` sign-in; none: sign in directly. */
  readonly confirmSignIn?: ConfirmSignIn;
  /** Asked on `consent_required`; none: the broker's `consent_required` error is passed on. */
  readonly askConsent?: AskConsent;
  /** The token picker; none: `pick` fails with `invalid_request`. */
  readonly pickToken?: PickToken;
  /**
   * The plain `fetch` of `ITokenBrokerClient.fetch` (never Jupyter's authenticated one);
   * `globalThis.fetch` by default.
   */
  readonly fetch?: typeof fetch;
  /** The clock in ms since the epoch; `Date.now` by default. */
  readonly now?: () => number;
  /** Login popup timing; {@link DEFAULT_LOGIN_TIMING} by default. */
  readonly loginTiming?: ILoginTiming;
}

/**
 * The token broker service that the `jupyter-token-broker:broker` plugin provides.
 *
 * @example
 * ```ts
 * const broker = new TokenBroker({ serverSettings: app.serviceManager.serverSettings });
 * const session = await broker.forClient('jupyterlab').getSession('demo', [], { silent: true });
 * ```
 */
export class TokenBroker implements ITokenBroker {
  /** The plain `fetch` for API calls with a bearer token. */
  readonly httpFetch: typeof fetch;
  /** The clock in ms since the epoch. */
  readonly now: () => number;
  private readonly _settings: ServerConnection.ISettings;
  private readonly _host: LoginHost;
  private readonly _confirmSignIn: ConfirmSignIn | undefined;
  private readonly _askConsent: AskConsent | undefined;
  private readonly _pickToken: PickToken | undefined;
  private readonly _loginTiming: ILoginTiming;
  private readonly _sessionsChanged = new Signal<ITokenBroker, ISessionsChangeEvent>(this);
  private readonly _clients = new Map<string, TokenBrokerClient>();
  /** Consent dialogs being shown, by `client provider`: one dialog per pair at a time. */
  private readonly _consentAsks = new Map<string, Promise<void>>();
  /** The last provider list (no token material), to notice sign-in state changes. */
  private _known = new Map<string, IProviderInfo>();
  private _login: { provider: string; popup: LoginPopup; done: Promise<void> } | null = null;

  /**
   * @param options - server settings and seams.
   */
  constructor(options: ITokenBrokerOptions) {
    this._settings = options.serverSettings;
    this._host = options.host ?? window;
    this._confirmSignIn = options.confirmSignIn;
    this._askConsent = options.askConsent;
    this._pickToken = options.pickToken;
    this._loginTiming = options.loginTiming ?? DEFAULT_LOGIN_TIMING;
    this.httpFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  /** {@inheritDoc ITokenBroker.sessionsChanged} */
  get sessionsChanged(): Signal<ITokenBroker, ISessionsChangeEvent> {
    return this._sessionsChanged;
  }

  /** {@inheritDoc ITokenBroker.forClient} */
  forClient(clientId: string): ITokenBrokerClient {
    if (!CLIENT_LABEL.test(clientId)) {
      throw new TokenBrokerError(
        'invalid_request',
        'A client id is a plugin id of 1 to 128 characters from A-Z a-z 0-9 @ / : . _ -.'
      );
    }
    let client = this._clients.get(clientId);
    if (!client) {
      client = new TokenBrokerClient(this, clientId);
      this._clients.set(clientId, client);
    }
    return client;
  }

  /** {@inheritDoc ITokenBroker.signingIn} */
  signingIn(providerId: string): boolean {
    return this._login?.provider === providerId;
  }

  /** {@inheritDoc ITokenBroker.providers} */
  async providers(): Promise<ReadonlyArray<IProviderInfo>> {
    return (await this._refresh()).providers;
  }

  /** {@inheritDoc ITokenBroker.events} */
  async events(
    options: { readonly limit?: number; readonly provider?: string } = {}
  ): Promise<ReadonlyArray<IAuditEvent>> {
    const query = new URLSearchParams({ limit: String(options.limit ?? DEFAULT_EVENT_LIMIT) });
    if (options.provider !== undefined) {
      query.set('provider', options.provider);
    }
    const answer = await requestBroker<Received<EventsAnswer>>(
      `events?${query}`,
      {},
      this._settings
    );
    return Object.freeze((answer.events ?? []).map(toAuditEvent));
  }

  /** {@inheritDoc ITokenBroker.consents} */
  async consents(): Promise<ReadonlyArray<IConsent>> {
    const answer = await requestBroker<Received<ConsentsAnswer>>('consents', {}, this._settings);
    const consents = (answer.consents ?? []).map(toConsent);
    return Object.freeze(consents.filter((c): c is IConsent => c !== null));
  }

  /** {@inheritDoc ITokenBroker.withdrawConsent} */
  async withdrawConsent(client: string, provider: string): Promise<void> {
    const query = new URLSearchParams({ client, provider });
    await requestBroker<void>(`consents?${query}`, { method: 'DELETE' }, this._settings);
    this._sessionsChanged.emit({ provider });
  }

  /**
   * Asks the broker for an access token in a client's name; the token is not kept anywhere else.
   *
   * @param providerId - the provider id.
   * @param scopes - the scopes; empty for the provider's default set.
   * @param minTtl - the minimum lifetime in seconds, if any.
   * @param client - the client label.
   * @returns the session.
   * @throws {TokenBrokerRequestError} the broker's error (`login_required`, `consent_required`…).
   */
  async fetchToken(
    providerId: string,
    scopes: ReadonlyArray<string>,
    minTtl: number | undefined,
    client: string
  ): Promise<ISession> {
    const body: TokenRequest = {};
    if (scopes.length > 0) {
      body.scopes = [...scopes];
    }
    if (minTtl !== undefined) {
      body.min_ttl = minTtl;
    }
    const answer = await requestBroker<TokenWire>(
      `providers/${encodeURIComponent(providerId)}/token`,
      { method: 'POST', body, client },
      this._settings
    );
    return toSession(answer, providerId, this._known.get(providerId)?.account ?? null);
  }

  /**
   * Sends a request through the broker's egress in a client's name: the broker adds the token.
   *
   * @param providerId - the provider id.
   * @param request - the request to the API (its URL under one of the provider's `egress` prefixes).
   * @param body - its body, already read, or `undefined`.
   * @param client - the client label.
   * @returns the API's answer, as the broker relayed it.
   * @throws {TokenBrokerRequestError} an answer the broker made itself (`consent_required`,
   *   `login_required`, `egress_not_allowed`, `upstream_unavailable`…).
   */
  egressFetch(
    providerId: string,
    request: Request,
    body: Blob | undefined,
    client: string
  ): Promise<Response> {
    return requestEgress(this._settings, providerId, request, body, client);
  }

  /**
   * Asks the person whether `client` may use `providerId` and records the decision with the broker
   * (in JupyterLab's own name: a plugin never records its own consent). Concurrent asks for the
   * same pair share one dialog.
   *
   * @param client - the plugin id.
   * @param providerId - the provider id.
   * @throws {ConsentError} `consent_denied` after a deny, `consent_cancelled` when closed.
   * @throws {TokenBrokerRequestError} `consent_required` when there is no one to ask.
   */
  ensureConsent(client: string, providerId: string): Promise<void> {
    const key = `${client} ${providerId}`;
    let asking = this._consentAsks.get(key);
    if (!asking) {
      asking = this._askAndRecord(client, providerId).finally(() => this._consentAsks.delete(key));
      this._consentAsks.set(key, asking);
    }
    return asking;
  }

  /**
   * Shows the token picker over the current provider list.
   *
   * @param options - the picker options.
   * @returns the choice, or `null` when cancelled.
   * @throws {TokenBrokerError} `invalid_request` when this broker has no picker.
   */
  async pickToken(options: IPickOptions): Promise<IPickResult | null> {
    if (!this._pickToken) {
      throw new TokenBrokerError('invalid_request', 'No token picker is available here.');
    }
    const all = await this.providers();
    const offered = options.providers ? all.filter(p => options.providers?.includes(p.id)) : all;
    if (offered.length === 0) {
      throw new TokenBrokerError('unknown_provider', 'No provider can be picked.');
    }
    return this._pickToken(offered, options);
  }

  /**
   * The provider as last listed, if it was.
   *
   * @param providerId - the provider id.
   * @returns the provider info, or `undefined`.
   */
  knownProvider(providerId: string): IProviderInfo | undefined {
    return this._known.get(providerId);
  }

  /**
   * Asks the person to confirm (when a confirmation is configured), then signs in.
   *
   * @param providerId - the provider id.
   * @param client - the client label of the login request.
   * @throws {SignInError} `login_cancelled` when declined, and every error of `signIn`.
   */
  async confirmAndSignIn(providerId: string, client: string): Promise<void> {
    const title = this._known.get(providerId)?.title ?? providerId;
    if (this._confirmSignIn && !(await this._confirmSignIn({ id: providerId, title }, client))) {
      throw new SignInError('login_cancelled', `Sign-in to ${title} was declined.`);
    }
    await this.signIn(providerId, client);
  }

  /**
   * Signs in through the login popup; see `ITokenBrokerClient.signIn`.
   *
   * @param providerId - the provider id.
   * @param client - the client label of the login request.
   * @returns resolves when the sign-in completed.
   */
  signIn(providerId: string, client: string = FIRST_PARTY_CLIENT): Promise<void> {
    // The popup must open before the first `await`, while the click's user activation lasts.
    const title = this._known.get(providerId)?.title ?? providerId;
    let popup: LoginPopup;
    try {
      popup = LoginPopup.open(this._host, `Connecting to ${title}…`);
    } catch (error) {
      return Promise.reject(error);
    }
    // The popup window is shared by name: a newer sign-in takes it over from an older one.
    this._login?.popup.abandon();
    const done = this._runLogin(providerId, popup, client).finally(() => {
      if (this._login?.popup === popup) {
        this._login = null;
      }
    });
    this._login = { provider: providerId, popup, done };
    // Listeners (the panel's Sign in button) learn that a sign-in runs, whoever started it.
    this._sessionsChanged.emit({ provider: providerId });
    return done;
  }

  /**
   * Signs out; see `ITokenBrokerClient.signOut`.
   *
   * @param providerId - the provider id.
   * @param client - the client label of the request.
   * @returns whether the identity provider revoked the sign-in, and the broker's notice when not.
   */
  async signOut(providerId: string, client: string = FIRST_PARTY_CLIENT): Promise<ISignOutResult> {
    try {
      // 204: revoked at the identity provider too; 200 carries what the person should know.
      const notice = await requestBroker<SignOutNotice | undefined>(
        `providers/${encodeURIComponent(providerId)}/grant`,
        { method: 'DELETE', client },
        this._settings
      );
      return notice === undefined
        ? { revoked: true }
        : {
            revoked: false,
            notice: { upstream: notice.upstream, description: notice.description }
          };
    } finally {
      await this._announce(providerId);
    }
  }

  private async _askAndRecord(client: string, providerId: string): Promise<void> {
    if (!this._askConsent) {
      throw new TokenBrokerRequestError(
        403,
        'consent_required',
        `${client} needs the person's consent to use ${providerId}, and no one can be asked here.`
      );
    }
    const title = this._known.get(providerId)?.title ?? providerId;
    const decision = await this._askConsent({ client, provider: { id: providerId, title } });
    if (decision === null) {
      throw new ConsentError(
        'consent_cancelled',
        `No decision was made whether ${client} may use ${title}.`,
        { client, provider: providerId }
      );
    }
    const body: ConsentRequest = { client, provider: providerId, decision };
    await requestBroker<void>(
      'consents',
      { method: 'PUT', body, client: FIRST_PARTY_CLIENT },
      this._settings
    );
    this._sessionsChanged.emit({ provider: providerId });
    if (decision === 'deny') {
      throw new ConsentError('consent_denied', `You denied ${client} the use of ${title}.`, {
        client,
        provider: providerId
      });
    }
  }

  private async _runLogin(providerId: string, popup: LoginPopup, client: string): Promise<void> {
    try {
      try {
        const body: LoginRequest = {};
        const { authorization_url } = await requestBroker<BrowserLoginAnswer>(
          `providers/${encodeURIComponent(providerId)}/login`,
          { method: 'POST', body, client },
          this._settings
        );
        popup.navigate(authorization_url);
      } catch (error) {
        popup.close();
        throw error;
      }
      const outcome = await popup.waitForResult(providerId, this._loginTiming);
      if (outcome === 'closed') {
        // The callback page may have closed itself before its message arrived (or the opener link
        // was cut): the broker's state tells a completed login from a cancelled one.
        const providers = await this.providers();
        const info = providers.find(p => p.id === providerId);
        if (!info?.signedIn || info.needsLogin) {
          throw new SignInError('login_cancelled', 'The login window was closed before sign-in.');
        }
      }
    } finally {
      // No longer signing in by the time listeners hear of the outcome (unless a newer sign-in took over).
      if (this._login?.popup === popup) {
        this._login = null;
      }
      await this._announce(providerId);
    }
  }

  /**
   * Re-reads the provider list (which signals every changed provider) and signals `providerId`
   * in any case, so listeners refresh after every sign-in and sign-out attempt.
   */
  private async _announce(providerId: string): Promise<void> {
    let changed: ReadonlySet<string> = new Set();
    try {
      changed = (await this._refresh()).changed;
    } catch {
      // The listeners' own refresh will show the error.
    }
    if (!changed.has(providerId)) {
      this._sessionsChanged.emit({ provider: providerId });
    }
  }

  /**
   * Fetches the provider list, stores it and signals each provider whose sign-in state changed
   * since the previous list (the first list signals nothing).
   */
  private async _refresh(): Promise<{
    providers: ReadonlyArray<IProviderInfo>;
    changed: ReadonlySet<string>;
  }> {
    const answer = await requestBroker<Received<ProvidersAnswer>>('providers', {}, this._settings);
    const providers = (answer.providers ?? []).map(toProviderInfo);
    const previous = this._known;
    this._known = new Map(providers.map(p => [p.id, p]));
    const changed = new Set<string>();
    if (previous.size > 0) {
      for (const provider of providers) {
        if (hasChanged(previous.get(provider.id), provider)) {
          changed.add(provider.id);
        }
      }
    }
    for (const id of changed) {
      this._sessionsChanged.emit({ provider: id });
    }
    return { providers, changed };
  }
}
