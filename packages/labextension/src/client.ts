/**
 * {@link ITokenBrokerClient}: the token broker in one plugin's name. Token requests carry the
 * plugin id; a missing consent or sign-in is remedied at most once per call, as the options allow.
 */
import type { ISignal } from '@lumino/signaling';

import type { TokenBroker } from './broker';
import { MAX_MIN_TTL } from './contract.generated';
import { egressPrefixFor } from './egress';
import { ConsentError, TokenBrokerError, TokenBrokerRequestError } from './errors';
import type {
  IGetSessionOptions,
  IPickOptions,
  IProviderInfo,
  ISession,
  ISessionsChangeEvent,
  ISignOutResult,
  ITokenBroker,
  ITokenBrokerClient,
  ITokenFetchInit
} from './tokens';

/**
 * The client of one plugin; made by {@link TokenBroker.forClient}.
 *
 * @example
 * ```ts
 * const tokens = broker.forClient('@acme/archive:plugin');
 * const session = await tokens.getSession('demo', [], { createIfNone: true });
 * ```
 */
export class TokenBrokerClient implements ITokenBrokerClient {
  /** {@inheritDoc ITokenBrokerClient.clientId} */
  readonly clientId: string;
  private readonly _broker: TokenBroker;

  /**
   * @param broker - the service this client asks.
   * @param clientId - the plugin id, already checked.
   */
  constructor(broker: TokenBroker, clientId: string) {
    this._broker = broker;
    this.clientId = clientId;
  }

  /** {@inheritDoc ITokenBrokerClient.sessionsChanged} */
  get sessionsChanged(): ISignal<ITokenBroker, ISessionsChangeEvent> {
    return this._broker.sessionsChanged;
  }

  /** {@inheritDoc ITokenBrokerClient.providers} */
  providers(): Promise<ReadonlyArray<IProviderInfo>> {
    return this._broker.providers();
  }

  /** {@inheritDoc ITokenBrokerClient.getSession} */
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
  getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options: IGetSessionOptions = {}
  ): Promise<ISession | undefined> {
    return this._getSession(providerId, scopes, options, true);
  }

  /** {@inheritDoc ITokenBrokerClient.fetch} */
  async fetch(input: RequestInfo | URL, init: ITokenFetchInit): Promise<Response> {
    const { provider, scopes = [], createIfNone = false, ...requestInit } = init;
    // Built once so the body can be sent twice (each attempt sends a clone).
    const request = new Request(input, requestInit);
    const info = await this._providerInfo(provider);
    if (info && egressPrefixFor(info.egress, new URL(request.url))) {
      return this._fetchThroughEgress(provider, request, createIfNone);
    }
    if (info && !info.exposeToken) {
      throw new TokenBrokerError(
        'egress_not_allowed',
        `${info.title} hands out no tokens, and ${new URL(request.url).origin} is under none of its egress prefixes (${info.egress.join(', ')}): the broker calls only those for it.`
      );
    }
    const session = await this._getSession(provider, scopes, { createIfNone }, true);
    if (!session) {
      throw new TokenBrokerError('login_required', `Sign in to ${provider} first.`);
    }
    const first = await this._send(request, session);
    if (first.status !== 401) {
      return first;
    }
    const newer = await this._newerSession(provider, scopes, session);
    if (!newer) {
      return first;
    }
    await first.body?.cancel().catch(() => undefined);
    return this._send(request, newer);
  }

  /** {@inheritDoc ITokenBrokerClient.pick} */
  async pick(options: IPickOptions = {}): Promise<ISession | undefined> {
    const choice = await this._broker.pickToken(options);
    if (!choice) {
      return undefined;
    }
    // The person just chose this provider: sign in without asking a second time.
    return this._getSession(choice.provider, choice.scopes, { createIfNone: true }, false);
  }

  /** {@inheritDoc ITokenBrokerClient.signIn} */
  signIn(providerId: string): Promise<void> {
    return this._broker.signIn(providerId, this.clientId);
  }

  /** {@inheritDoc ITokenBrokerClient.signOut} */
  signOut(providerId: string): Promise<ISignOutResult> {
    return this._broker.signOut(providerId, this.clientId);
  }

  /**
   * Asks for the token; on `consent_required` asks the person (unless silent), on `login_required`
   * signs in (with `createIfNone`), each at most once, then asks again.
   */
  private async _getSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    options: IGetSessionOptions,
    confirmSignIn: boolean
  ): Promise<ISession | undefined> {
    if (options.silent && (options.createIfNone || options.forceNewSession)) {
      throw new TokenBrokerError(
        'invalid_request',
        '`silent` cannot be combined with `createIfNone` or `forceNewSession`.'
      );
    }
    return this._remedied(providerId, options, confirmSignIn, () =>
      this._broker.fetchToken(providerId, scopes, options.minTtl, this.clientId)
    );
  }

  /**
   * Sends a request through the broker's egress (the broker adds the token, which never comes here),
   * with the same remedies as a token request: consent asked, sign-in with `createIfNone`.
   */
  private async _fetchThroughEgress(
    providerId: string,
    request: Request,
    createIfNone: boolean
  ): Promise<Response> {
    const body = request.body === null ? undefined : await request.blob();
    const response = await this._remedied(providerId, { createIfNone }, true, () =>
      this._broker.egressFetch(providerId, request, body, this.clientId)
    );
    if (!response) {
      throw new TokenBrokerError('login_required', `Sign in to ${providerId} first.`);
    }
    return response;
  }

  /**
   * Runs `attempt`; on `consent_required` asks the person (unless silent), on `login_required`
   * signs in (with `createIfNone`), each at most once, then runs it again. `undefined` when no one
   * is signed in and no sign-in was asked for, or consent is still to be asked and `silent` is set.
   */
  private async _remedied<T>(
    providerId: string,
    options: IGetSessionOptions,
    confirmSignIn: boolean,
    attempt: () => Promise<T>
  ): Promise<T | undefined> {
    const signIn = (): Promise<void> =>
      confirmSignIn
        ? this._broker.confirmAndSignIn(providerId, this.clientId)
        : this._broker.signIn(providerId, this.clientId);
    let signedIn = false;
    let consentAsked = false;
    if (options.forceNewSession) {
      await signIn();
      signedIn = true;
    }
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const failure = error instanceof TokenBrokerRequestError ? error : undefined;
        const code = failure?.code;
        if (failure && code === 'consent_denied') {
          throw new ConsentError('consent_denied', failure.description, {
            client: this.clientId,
            provider: providerId
          });
        }
        if (code === 'consent_required' && options.silent) {
          return undefined;
        }
        if (code === 'consent_required' && !consentAsked) {
          consentAsked = true;
          await this._broker.ensureConsent(this.clientId, providerId);
          continue;
        }
        if (code === 'login_required' && options.createIfNone && !signedIn) {
          signedIn = true;
          await signIn();
          continue;
        }
        if (code === 'login_required' && !options.createIfNone && !options.forceNewSession) {
          return undefined;
        }
        throw error;
      }
    }
  }

  /**
   * A token the broker had to renew (a `min_ttl` just above what `stale` has left forces a
   * refresh), or `undefined` when there is none: then the caller keeps the API's 401.
   */
  private async _newerSession(
    providerId: string,
    scopes: ReadonlyArray<string>,
    stale: ISession
  ): Promise<ISession | undefined> {
    const left = Math.floor(stale.expiresAt - this._broker.now() / 1000);
    const minTtl = Math.min(MAX_MIN_TTL, Math.max(0, left + 1));
    try {
      const newer = await this._getSession(providerId, scopes, { minTtl, silent: true }, false);
      return newer && newer.accessToken !== stale.accessToken ? newer : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The provider as last listed, or from a fresh list when it was not; `undefined` when unknown or
   * the list cannot be read (then the token request decides: the broker refuses a token it does
   * not hand out).
   */
  private async _providerInfo(providerId: string): Promise<IProviderInfo | undefined> {
    const known = this._broker.knownProvider(providerId);
    if (known) {
      return known;
    }
    try {
      return (await this._broker.providers()).find(p => p.id === providerId);
    } catch {
      return undefined;
    }
  }

  private _send(request: Request, session: ISession): Promise<Response> {
    const headers = new Headers(request.headers);
    headers.set('Authorization', `Bearer ${session.accessToken}`);
    return this._broker.httpFetch(new Request(request.clone(), { headers }));
  }
}
