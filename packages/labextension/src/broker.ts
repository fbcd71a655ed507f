/**
 * The {@link ITokenBroker} implementation: talks to the broker API through the Jupyter server and
 * runs sign-in through the login popup. It keeps no token: every access token it hands out is
 * fetched for that call and only lives in the returned session object.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import { SignInError, TokenBrokerError, TokenBrokerRequestError } from './errors';
import { DEFAULT_LOGIN_TIMING, ILoginTiming, LoginHost, LoginPopup } from './loginPopup';
import { requestBroker } from './request';
import type {
  IGetSessionOptions,
  IProviderInfo,
  ISession,
  ISessionsChangeEvent,
  ITokenBroker
} from './tokens';

/**
 * Asks the person whether to sign in, for sign-ins a plugin started through `getSession`.
 * Resolving `true` from a button click keeps the browser's user activation for the popup.
 */
export type ConfirmSignIn = (provider: { id: string; title: string }) => Promise<boolean>;

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
  /** Login popup timing; {@link DEFAULT_LOGIN_TIMING} by default. */
  readonly loginTiming?: ILoginTiming;
}

/** The broker's provider entry on the wire. */
interface IProviderWire {
  id: string;
  title?: string;
  kind?: string;
  signed_in?: boolean;
  account?: string | null;
  scopes?: string[] | string;
  expires_at?: number | null;
  needs_login?: boolean;
  error?: string | { error?: string; error_description?: string } | null;
  error_description?: string;
}

/** The broker's token answer on the wire. */
interface ITokenWire {
  access_token: string;
  token_type: string;
  expires_at: number;
  expires_in: number;
  scopes?: string[] | string;
  provider?: string;
}

/**
 * The token broker service that the `jupyter-token-broker:broker` plugin provides.
 *
 * @example
 * ```ts
 * const broker = new TokenBroker({ serverSettings: app.serviceManager.serverSettings });
 * const session = await broker.getSession('demo', [], { silent: true });
 * ```
 */
export class TokenBroker implements ITokenBroker {
  private readonly _settings: ServerConnection.ISettings;
  private readonly _host: LoginHost;
  private readonly _confirmSignIn: ConfirmSignIn | undefined;
  private readonly _loginTiming: ILoginTiming;
  private readonly _sessionsChanged = new Signal<ITokenBroker, ISessionsChangeEvent>(this);
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
    this._loginTiming = options.loginTiming ?? DEFAULT_LOGIN_TIMING;
  }

  /** {@inheritDoc ITokenBroker.sessionsChanged} */
  get sessionsChanged(): Signal<ITokenBroker, ISessionsChangeEvent> {
    return this._sessionsChanged;
  }

  /** {@inheritDoc ITokenBroker.providers} */
  async providers(): Promise<ReadonlyArray<IProviderInfo>> {
    return (await this._refresh()).providers;
  }

  /** {@inheritDoc ITokenBroker.getSession} */
  getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options: IGetSessionOptions & { readonly createIfNone: true }
  ): Promise<ISession>;
  getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options: IGetSessionOptions & { readonly forceNewSession: true }
  ): Promise<ISession>;
  getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options?: IGetSessionOptions
  ): Promise<ISession | undefined>;
  async getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options: IGetSessionOptions = {}
  ): Promise<ISession | undefined> {
    if (options.silent && (options.createIfNone || options.forceNewSession)) {
      throw new TokenBrokerError(
        'invalid_request',
        '`silent` cannot be combined with `createIfNone` or `forceNewSession`.'
      );
    }
    if (options.forceNewSession) {
      await this._confirmAndSignIn(providerId);
      return this._fetchSession(providerId, scopes, options.minTtl);
    }
    try {
      return await this._fetchSession(providerId, scopes, options.minTtl);
    } catch (error) {
      if (!isLoginRequired(error)) {
        throw error;
      }
      if (!options.createIfNone) {
        return undefined;
      }
    }
    await this._confirmAndSignIn(providerId);
    return this._fetchSession(providerId, scopes, options.minTtl);
  }

  /** {@inheritDoc ITokenBroker.signIn} */
  signIn(providerId: string): Promise<void> {
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
    const done = this._runLogin(providerId, popup).finally(() => {
      if (this._login?.popup === popup) {
        this._login = null;
      }
    });
    this._login = { provider: providerId, popup, done };
    return done;
  }

  /** {@inheritDoc ITokenBroker.signOut} */
  async signOut(providerId: string): Promise<void> {
    try {
      await requestBroker<void>(
        `providers/${encodeURIComponent(providerId)}/grant`,
        { method: 'DELETE' },
        this._settings
      );
    } finally {
      await this._announce(providerId);
    }
  }

  /** Asks for the token and wraps it in a session; the token is not kept anywhere else. */
  private async _fetchSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    minTtl: number | undefined
  ): Promise<ISession> {
    const body: { scopes?: string[]; min_ttl?: number } = {};
    if (scopes.length > 0) {
      body.scopes = [...scopes];
    }
    if (minTtl !== undefined) {
      body.min_ttl = minTtl;
    }
    const answer = await requestBroker<ITokenWire>(
      `providers/${encodeURIComponent(providerId)}/token`,
      { method: 'POST', body },
      this._settings
    );
    const account = this._known.get(providerId)?.account ?? null;
    return Object.freeze({
      id: `${providerId}:${account ?? ''}`,
      provider: answer.provider ?? providerId,
      accessToken: answer.access_token,
      expiresAt: answer.expires_at,
      account,
      scopes: Object.freeze(toScopes(answer.scopes))
    });
  }

  private async _confirmAndSignIn(providerId: string): Promise<void> {
    const title = this._known.get(providerId)?.title ?? providerId;
    if (this._confirmSignIn && !(await this._confirmSignIn({ id: providerId, title }))) {
      throw new SignInError('login_cancelled', `Sign-in to ${title} was declined.`);
    }
    await this.signIn(providerId);
  }

  private async _runLogin(providerId: string, popup: LoginPopup): Promise<void> {
    try {
      const { authorization_url } = await requestBroker<{ authorization_url: string }>(
        `providers/${encodeURIComponent(providerId)}/login`,
        { method: 'POST', body: {} },
        this._settings
      );
      popup.navigate(authorization_url);
    } catch (error) {
      popup.close();
      throw error;
    }
    try {
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
    const answer = await requestBroker<{ providers?: IProviderWire[] }>(
      'providers',
      {},
      this._settings
    );
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

/** Whether the sign-in state differs (expiry alone does not count: it moves with every token). */
function hasChanged(before: IProviderInfo | undefined, after: IProviderInfo | undefined): boolean {
  if (!before || !after) {
    return before !== after;
  }
  return (
    before.signedIn !== after.signedIn ||
    before.account !== after.account ||
    before.needsLogin !== after.needsLogin ||
    before.error?.code !== after.error?.code
  );
}

function isLoginRequired(error: unknown): boolean {
  return error instanceof TokenBrokerRequestError && error.code === 'login_required';
}

function toProviderInfo(wire: IProviderWire): IProviderInfo {
  const error = toProviderError(wire);
  return Object.freeze({
    id: wire.id,
    title: wire.title ?? wire.id,
    kind: wire.kind ?? 'oidc',
    signedIn: wire.signed_in === true,
    account: wire.account ?? null,
    scopes: Object.freeze(toScopes(wire.scopes)),
    expiresAt: typeof wire.expires_at === 'number' ? wire.expires_at : null,
    needsLogin: wire.needs_login === true,
    ...(error ? { error } : {})
  });
}

function toProviderError(wire: IProviderWire): IProviderInfo['error'] {
  if (!wire.error) {
    return undefined;
  }
  if (typeof wire.error === 'string') {
    // The broker reports either a stable code (with `error_description`) or, for an IdP it cannot
    // reach, the reason as text.
    return /^[a-z_]+$/.test(wire.error)
      ? Object.freeze({
          code: wire.error,
          description: wire.error_description ?? 'The provider reported a problem.'
        })
      : Object.freeze({ code: 'upstream_unavailable', description: wire.error });
  }
  return Object.freeze({
    code: wire.error.error ?? 'server_error',
    description: wire.error.error_description ?? 'The provider reported a problem.'
  });
}

/** Scopes arrive as an array or as an OAuth space-separated string. */
function toScopes(scopes: string[] | string | undefined): string[] {
  if (Array.isArray(scopes)) {
    return scopes.filter(s => typeof s === 'string');
  }
  return typeof scopes === 'string' ? scopes.split(' ').filter(s => s !== '') : [];
}
