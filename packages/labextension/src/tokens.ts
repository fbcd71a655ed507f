/**
 * The public API of the token broker for JupyterLab plugins: Lumino tokens, interfaces and command
 * ids only. Importing this module has no side effects.
 *
 * The shape follows VS Code's authentication API (`vscode.authentication.getSession`).
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type { components } from './wire.generated';

/** How a provider is configured (`openapi.yaml`, `Provider.kind`): `oidc`, `keycloak`, … or `hub`. */
export type ProviderKind = components['schemas']['Provider']['kind'];

/**
 * How the broker gets a provider's tokens (`openapi.yaml`, `Provider.grant`): `authorization_code`
 * (a person signs in), `client_credentials` (a service account, always signed in),
 * `token_exchange` (exchanges another provider's token) or `hub` (the JupyterHub login).
 */
export type ProviderGrant = components['schemas']['Provider']['grant'];

/**
 * How a provider answers a request for fewer scopes than its sign-in granted (`openapi.yaml`,
 * `Provider.narrowing`): `refuse` (only the sign-in's own token: asking a subset fails with
 * `scope_not_allowed`), `refresh` or `exchange` (a narrowed token), or `null` for providers without
 * a sign-in's grant of their own.
 */
export type ProviderNarrowing = components['schemas']['Provider']['narrowing'];

/**
 * Why a sign-out did not end the sign-in at the identity provider (`openapi.yaml`,
 * `SignOutNotice.upstream`): `not_supported` (it has no revocation endpoint, so it was not asked),
 * `retrying` (unreachable; the broker tries again) or `refused`.
 */
export type SignOutUpstream = components['schemas']['SignOutNotice']['upstream'];

/**
 * What a sign-out did: signed out here always; `revoked` tells whether the identity provider ended
 * the sign-in too, and `notice` what the person should know when it did not.
 */
export type ISignOutResult =
  | { readonly revoked: true }
  | {
      readonly revoked: false;
      readonly notice: {
        readonly upstream: SignOutUpstream;
        /** One sentence for the person, e.g. "Signed out here; the identity provider was not asked to revoke (no revocation endpoint): …". */
        readonly description: string;
      };
    };

/**
 * One identity provider the broker knows, as the broker reports it. It never carries a token.
 */
export interface IProviderInfo {
  /** Stable provider id from the broker config, e.g. `demo`. */
  readonly id: string;
  /** Human readable title, e.g. `Demo IdP`. */
  readonly title: string;
  /** How the provider is configured, a {@link ProviderKind}: e.g. `oidc`, or `hub` for the JupyterHub login. */
  readonly kind: string;
  /** How the broker gets its tokens, a {@link ProviderGrant}: e.g. `authorization_code`, `client_credentials`. */
  readonly grant: string;
  /**
   * How it answers a subset of its sign-in's scopes, a {@link ProviderNarrowing}: `refuse` means only
   * the sign-in's own token (all its scopes) is handed out.
   */
  readonly narrowing: ProviderNarrowing;
  /** Whether the broker holds a grant for this provider. */
  readonly signedIn: boolean;
  /** The signed-in account (preferred user name or subject), or `null`. */
  readonly account: string | null;
  /** Scopes the provider allows (and asks for at sign-in by default). */
  readonly scopes: ReadonlyArray<string>;
  /** Expiry of the broker's cached access token in seconds since the epoch, or `null` when none is cached. */
  readonly expiresAt: number | null;
  /** Whether a person has to sign in (again) before tokens can be issued. */
  readonly needsLogin: boolean;
  /**
   * The URL prefixes the broker's egress calls with this provider's token (its `egress` option),
   * e.g. `https://archive.example.org/tap/`: {@link ITokenBrokerClient.fetch} sends a URL under one
   * of them through the broker, and the token never reaches the page. Empty when it has none.
   */
  readonly egress: ReadonlyArray<string>;
  /**
   * Whether the broker hands this provider's tokens to plugins and notebook code (its
   * `expose_token` option). `false`: only its egress uses them; `getSession` fails with
   * `token_not_exposed`.
   */
  readonly exposeToken: boolean;
  /** A problem the broker reports for this provider (e.g. the IdP is unreachable), if any. */
  readonly error?: IProviderError;
}

/**
 * A problem report with a stable code, as the broker's `{error, error_description}`.
 */
export interface IProviderError {
  /** Stable machine-readable code such as `upstream_unavailable`. */
  readonly code: string;
  /** Human readable description. */
  readonly description: string;
}

/**
 * A short-lived access token handed out by the broker. Do not store it: ask again when you need
 * one; the broker caches and refreshes tokens itself.
 */
export interface ISession {
  /** An id for the sign-in this token belongs to (`provider:account`). */
  readonly id: string;
  /** The provider id. */
  readonly provider: string;
  /** The access token, for an `Authorization: Bearer` header. Never log or display it. */
  readonly accessToken: string;
  /** Expiry in seconds since the epoch. */
  readonly expiresAt: number;
  /** The signed-in account, or `null` when the provider has no user (client credentials). */
  readonly account: string | null;
  /** The scopes this token carries. */
  readonly scopes: ReadonlyArray<string>;
}

/**
 * Options of {@link ITokenBrokerClient.getSession}, as in VS Code's `AuthenticationGetSessionOptions`.
 */
export interface IGetSessionOptions {
  /**
   * When no one is signed in, ask the person to sign in (a dialog, then a login popup) and resolve
   * with the new session. Mutually exclusive with `silent`.
   */
  readonly createIfNone?: boolean;
  /**
   * Sign in again even when signed in, e.g. to switch accounts or after access rights changed.
   * Mutually exclusive with `silent`.
   */
  readonly forceNewSession?: boolean;
  /**
   * Never show any UI: no sign-in and no consent dialog. Resolve with `undefined` when no one is
   * signed in or the person has not yet decided whether this plugin may use the provider.
   */
  readonly silent?: boolean;
  /** Minimum remaining lifetime in seconds of the returned token (the broker's `min_ttl`). */
  readonly minTtl?: number;
}

/**
 * What changed when a `sessionsChanged` signal fires.
 */
export interface ISessionsChangeEvent {
  /** The provider whose sign-in state changed. */
  readonly provider: string;
}

/**
 * The `init` of {@link ITokenBrokerClient.fetch}: a `RequestInit` plus which token to send.
 */
export interface ITokenFetchInit extends RequestInit {
  /** The provider id whose access token goes into `Authorization: Bearer …` (or whose egress is used). */
  readonly provider: string;
  /** The scopes to ask for; omitted or empty for the provider's default set (egress: always). */
  readonly scopes?: ReadonlyArray<string>;
  /**
   * Ask the person to sign in when no one is (as `getSession`'s `createIfNone`); `false` by
   * default, and then a missing sign-in rejects with `login_required`.
   */
  readonly createIfNone?: boolean;
}

/**
 * Options of the token picker ({@link ITokenBrokerClient.pick}).
 */
export interface IPickOptions {
  /** The dialog title; `Choose a token` by default. */
  readonly title?: string;
  /** Offer only these provider ids; every provider by default. */
  readonly providers?: ReadonlyArray<string>;
  /** The provider selected first; the person's default provider (a setting) otherwise. */
  readonly provider?: string;
  /** The scopes checked first; all the provider's scopes by default. */
  readonly scopes?: ReadonlyArray<string>;
}

/**
 * What the person chose in the token picker.
 */
export interface IPickResult {
  /** The provider id. */
  readonly provider: string;
  /**
   * The scopes chosen; empty when the person kept every scope of the provider (its default set),
   * so the broker answers its default token.
   */
  readonly scopes: ReadonlyArray<string>;
}

/**
 * A decision of the person about one plugin using one provider.
 *
 * - `allow`: for this browser session of the broker (it expires, and is never written to disk);
 * - `allow_always`: kept by the broker until withdrawn in the Token Broker panel;
 * - `deny`: the plugin's token requests for that provider fail with `consent_denied`.
 *
 * The values are `openapi.yaml`'s `Consent.decision`.
 */
export type ConsentDecision = components['schemas']['Consent']['decision'];

/**
 * A recorded consent decision, as the broker keeps it.
 */
export interface IConsent {
  /** The plugin id the decision is about, e.g. `@acme/archive:plugin`. */
  readonly client: string;
  /** The provider id. */
  readonly provider: string;
  /** The decision. */
  readonly decision: ConsentDecision;
  /** When the decision lapses, in seconds since the epoch; `null` for one kept until withdrawn. */
  readonly expiresAt: number | null;
}

/**
 * One entry of the broker's audit trail. It never carries token material.
 */
export interface IAuditEvent {
  /** When it happened, in milliseconds since the epoch. */
  readonly time: number;
  /** What happened: `issue`, `refresh`, `login`, `logout`, `revoke`, `denial`, `consent`. */
  readonly type: string;
  /** The provider id, if the event concerns one. */
  readonly provider: string | null;
  /** Who asked: `jupyterlab`, `kernel`, a plugin id, or `null`. */
  readonly client: string | null;
  /** The scopes involved. */
  readonly scopes: ReadonlyArray<string>;
  /** `ok`, `error` or `denied`. */
  readonly outcome: string;
  /** The stable error code of a failed or denied event. */
  readonly code?: string;
  /** A human readable reason, when the broker gave one. */
  readonly reason?: string;
}

/**
 * The token broker as one plugin uses it: every token request is made in that plugin's name, so
 * the person decides per plugin (the consent dialog) and the audit trail names the plugin. Get one
 * with {@link ITokenBroker.forClient}.
 *
 * @example
 * ```ts
 * const plugin: JupyterFrontEndPlugin<void> = {
 *   id: '@acme/archive:plugin',
 *   autoStart: true,
 *   requires: [ITokenBroker],
 *   activate: (app: JupyterFrontEnd, broker: ITokenBroker) => {
 *     const tokens = broker.forClient('@acme/archive:plugin');
 *     app.commands.addCommand('acme:search', {
 *       label: 'Search the archive',
 *       execute: async () => {
 *         const response = await tokens.fetch('https://archive.example.org/search?q=m31', {
 *           provider: 'demo',
 *           scopes: ['demo:read'],
 *           createIfNone: true
 *         });
 *         return response.json();
 *       }
 *     });
 *   }
 * };
 * ```
 */
export interface ITokenBrokerClient {
  /** The plugin id every request of this client is made in the name of. */
  readonly clientId: string;

  /**
   * Fires when a sign-in starts, after a sign-in or sign-out completes, or when the broker reports a
   * changed sign-in state. The same signal as {@link ITokenBroker.sessionsChanged}.
   */
  readonly sessionsChanged: ISignal<ITokenBroker, ISessionsChangeEvent>;

  /**
   * Lists the providers and their sign-in state.
   *
   * @returns one entry per configured provider.
   * @throws {TokenBrokerRequestError} when the broker cannot be reached or answers an error.
   *
   * @example
   * ```ts
   * const signedIn = (await tokens.providers()).filter(p => p.signedIn && !p.needsLogin);
   * ```
   */
  providers(): Promise<ReadonlyArray<IProviderInfo>>;

  /**
   * Gets a fresh access token. The first time this plugin asks for a provider the person is asked
   * to allow it (allow / always allow / deny) unless `silent` is set; with `createIfNone` or
   * `forceNewSession` they are also asked to sign in when needed.
   *
   * @param providerId - the provider id, e.g. `demo`.
   * @param scopes - the scopes to ask for; empty for the provider's default set.
   * @param options - `createIfNone: true` or `forceNewSession: true` resolve with a session or reject.
   * @returns the session, or `undefined` when no one is signed in (or, with `silent`, consent is
   *   still to be asked) and no sign-in was asked for.
   * @throws {ConsentError} `consent_denied` when the person denied this plugin the provider,
   *   `consent_cancelled` when they closed the consent dialog without deciding.
   * @throws {SignInError} when a sign-in was needed and did not complete.
   * @throws {TokenBrokerRequestError} for other broker errors (e.g. `scope_not_allowed`).
   *
   * @example
   * ```ts
   * // Typed `ISession`, never `undefined`: no check needed before using the token.
   * const session = await tokens.getSession('demo', ['demo:read'], { createIfNone: true });
   * const headers = { Authorization: `Bearer ${session.accessToken}` };
   * ```
   */
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

  /**
   * Calls an API as the signed-in person, in one of two ways:
   *
   * - **through the broker's egress** when the URL is under one of the provider's `egress` prefixes
   *   ({@link IProviderInfo.egress}: same scheme, host and port, and a path starting with the
   *   prefix's): the request goes to the Jupyter server (with Jupyter's credentials) and the broker
   *   adds the token, which never reaches the page. The broker retries a `401` once itself, does not
   *   follow redirects (a 3xx answer is an opaque redirect here) and drops `Set-Cookie`; the
   *   answer's `url` is the Jupyter server's egress URL. The body is read before it is sent (browsers
   *   stream request bodies only over HTTP/2); the answer streams. `init.scopes` does not apply: the
   *   broker sends the provider's default token.
   * - **with a token** otherwise: `Authorization: Bearer <access token>` added, sent with the
   *   browser's plain `fetch` (never with Jupyter's credentials); on a `401` it asks once for a
   *   newer token and retries, else resolves with the `401`. A provider whose tokens are not exposed
   *   (`exposeToken: false`) refuses this way with `egress_not_allowed`, before any request.
   *
   * Either way the API's own answers, errors included, resolve as they are.
   *
   * @param input - the URL or `Request`.
   * @param init - a `RequestInit` plus `provider`, optional `scopes` and `createIfNone`.
   * @returns the answer of the API.
   * @throws {TokenBrokerError} `login_required` when no one is signed in (and `createIfNone` is not
   *   set), `egress_not_allowed` for a URL outside the egress of a provider that hands out no
   *   tokens, and every error of {@link ITokenBrokerClient.getSession}.
   * @throws {TokenBrokerRequestError} an answer the broker made itself for an egress call
   *   (`egress_not_allowed`, `upstream_unavailable`…; they carry `X-Token-Broker-Error`).
   *
   * @example
   * ```ts
   * const response = await tokens.fetch('https://api.example.org/items', {
   *   method: 'POST',
   *   headers: { 'Content-Type': 'application/json' },
   *   body: JSON.stringify({ name: 'm31' }),
   *   provider: 'demo'
   * });
   * ```
   */
  fetch(input: RequestInfo | URL, init: ITokenFetchInit): Promise<Response>;

  /**
   * Opens the token picker: the person chooses a provider and scopes, signs in if needed, and the
   * plugin gets a session for that choice.
   *
   * @param options - title, which providers to offer, what to select first.
   * @returns the session, or `undefined` when the person cancelled the picker.
   * @throws every error of {@link ITokenBrokerClient.getSession} with `createIfNone`.
   *
   * @example
   * ```ts
   * const session = await tokens.pick({ title: 'Which account should the archive use?' });
   * if (session) {
   *   console.info(`Using ${session.provider} as ${session.account}`);
   * }
   * ```
   */
  pick(options?: IPickOptions): Promise<ISession | undefined>;

  /**
   * Signs in through a login popup. Call it synchronously from a click or key handler: the popup is
   * opened before anything is awaited so popup blockers let it through.
   *
   * @param providerId - the provider id.
   * @returns resolves when the sign-in completed.
   * @throws {SignInError} `popup_blocked`, `login_cancelled`, `login_timeout` or `login_failed`.
   * @throws {TokenBrokerRequestError} when the broker refuses to start the login.
   *
   * @example
   * ```ts
   * button.addEventListener('click', () => void tokens.signIn('demo'));
   * ```
   */
  signIn(providerId: string): Promise<void>;

  /**
   * Signs out: the broker forgets the grant and every cached token, and asks the identity provider
   * to revoke the sign-in.
   *
   * @param providerId - the provider id.
   * @returns whether the identity provider revoked the sign-in; when it did not (no revocation
   *   endpoint, unreachable, refused), what to tell the person.
   * @throws {TokenBrokerRequestError} when the broker answers an error.
   *
   * @example
   * ```ts
   * const result = await tokens.signOut('demo');
   * if (!result.revoked) console.warn(result.notice.description);
   * ```
   */
  signOut(providerId: string): Promise<ISignOutResult>;
}

/**
 * The token broker service that JupyterLab plugins `require`. Token requests go through a client
 * named after the plugin ({@link ITokenBroker.forClient}); the service itself lists providers,
 * the audit trail and the consent decisions.
 *
 * Consent is a decision of the person, not a wall between plugins: every JupyterLab plugin runs in
 * the same page. It shows the person which plugin uses which provider, lets them say no, and puts
 * the plugin's name in the audit trail.
 *
 * @example
 * ```ts
 * const plugin: JupyterFrontEndPlugin<void> = {
 *   id: '@acme/archive:plugin',
 *   autoStart: true,
 *   requires: [ITokenBroker],
 *   activate: async (_app: JupyterFrontEnd, broker: ITokenBroker) => {
 *     const tokens = broker.forClient('@acme/archive:plugin');
 *     const session = await tokens.getSession('demo', ['demo:read'], { createIfNone: true });
 *     await fetch('https://api.example.org/data', {
 *       headers: { Authorization: `Bearer ${session.accessToken}` }
 *     });
 *   }
 * };
 * ```
 */
export interface ITokenBroker {
  /**
   * The API for one plugin, every request made in its name (the `X-Token-Broker-Client` label).
   *
   * @param clientId - the plugin id, e.g. `@acme/archive:plugin`; it must match
   *   `[A-Za-z0-9@/:._-]{1,128}`. JupyterLab's own panel and commands use `jupyterlab`.
   * @returns the client; the same object for the same id.
   * @throws {TokenBrokerError} `invalid_request` for an id outside that pattern.
   *
   * @example
   * ```ts
   * const tokens = broker.forClient('@acme/archive:plugin');
   * ```
   */
  forClient(clientId: string): ITokenBrokerClient;

  /**
   * Fires when a sign-in starts, after a sign-in or sign-out completes, or when the broker reports a changed
   * sign-in state.
   */
  readonly sessionsChanged: ISignal<ITokenBroker, ISessionsChangeEvent>;

  /**
   * Whether a sign-in to the provider is running in this JupyterLab (its login window is open), whichever
   * plugin or command started it.
   *
   * @param providerId - the provider id.
   * @returns `true` from the sign-in's start until it completes, fails or is abandoned.
   *
   * @example
   * ```ts
   * signInButton.disabled = broker.signingIn('demo');
   * ```
   */
  signingIn(providerId: string): boolean;

  /**
   * Lists the providers and their sign-in state.
   *
   * @returns one entry per configured provider.
   * @throws {TokenBrokerRequestError} when the broker cannot be reached or answers an error.
   *
   * @example
   * ```ts
   * const titles = (await broker.providers()).map(p => p.title);
   * ```
   */
  providers(): Promise<ReadonlyArray<IProviderInfo>>;

  /**
   * Reads the audit trail, newest first.
   *
   * @param options - at most `limit` events (default 20), only those of `provider`.
   * @returns the events; they never carry token material.
   * @throws {TokenBrokerRequestError} when the broker answers an error.
   *
   * @example
   * ```ts
   * const [latest] = await broker.events({ limit: 1, provider: 'demo' });
   * ```
   */
  events(options?: {
    readonly limit?: number;
    readonly provider?: string;
  }): Promise<ReadonlyArray<IAuditEvent>>;

  /**
   * Lists the consent decisions the person made about plugins.
   *
   * @returns the decisions the broker keeps.
   * @throws {TokenBrokerRequestError} when the broker answers an error.
   *
   * @example
   * ```ts
   * const denied = (await broker.consents()).filter(c => c.decision === 'deny');
   * ```
   */
  consents(): Promise<ReadonlyArray<IConsent>>;

  /**
   * Withdraws a consent decision: the plugin will be asked again next time. Idempotent.
   *
   * @param client - the plugin id.
   * @param provider - the provider id.
   * @throws {TokenBrokerRequestError} when the broker answers an error.
   *
   * @example
   * ```ts
   * await broker.withdrawConsent('@acme/archive:plugin', 'demo');
   * ```
   */
  withdrawConsent(client: string, provider: string): Promise<void>;
}

/**
 * The Lumino token of the token broker service.
 */
export const ITokenBroker = new Token<ITokenBroker>(
  'jupyter-token-broker:ITokenBroker',
  'Per-user OAuth/OIDC access tokens from the token broker.'
);

/**
 * The client id of JupyterLab's own Token Broker panel and commands. The broker asks no consent
 * for it; plugins use their own plugin id.
 */
export const FIRST_PARTY_CLIENT = 'jupyterlab';

/**
 * The snippet languages of the header helper (`token-broker:insert-snippet`'s `language`).
 */
export type SnippetLanguage =
  'python-requests' | 'python-httpx' | 'r-httr2' | 'curl' | 'javascript-fetch';

/**
 * Command ids of the token broker extension. `sign-in`, `sign-out`, `copy-header`, `pick` and
 * `insert-snippet` take an optional `{provider: string}` argument and ask which provider when it
 * is missing; `insert-snippet` also takes `{language: SnippetLanguage, scopes: string[]}`.
 */
export const CommandIDs = {
  /** Sign in to a provider through a login popup. */
  signIn: 'token-broker:sign-in',
  /** Sign out of a provider. */
  signOut: 'token-broker:sign-out',
  /** Copy an `Authorization: Bearer …` header for a provider to the clipboard. */
  copyHeader: 'token-broker:copy-header',
  /** Open the token picker: choose a provider and scopes, then copy a header or insert a snippet. */
  pick: 'token-broker:pick',
  /** Insert a code cell that calls an API with the broker's token into the active notebook. */
  insertSnippet: 'token-broker:insert-snippet',
  /** Open the Token Broker panel in the left sidebar. */
  openPanel: 'token-broker:open-panel'
} as const;
