/**
 * The public API of the token broker for JupyterLab plugins: Lumino tokens, interfaces and command
 * ids only. Importing this module has no side effects.
 *
 * The shape follows VS Code's authentication API (`vscode.authentication.getSession`).
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

/**
 * One identity provider the broker knows, as the broker reports it. It never carries a token.
 */
export interface IProviderInfo {
  /** Stable provider id from the broker config, e.g. `demo`. */
  readonly id: string;
  /** Human readable title, e.g. `Demo IdP`. */
  readonly title: string;
  /** Grant kind, e.g. `oidc`, `hub`, `client_credentials`. */
  readonly kind: string;
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
 * Options of {@link ITokenBroker.getSession}, as in VS Code's `AuthenticationGetSessionOptions`.
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
  /** Never show any UI; resolve with `undefined` when no one is signed in. */
  readonly silent?: boolean;
  /** Minimum remaining lifetime in seconds of the returned token (the broker's `min_ttl`). */
  readonly minTtl?: number;
}

/**
 * What changed when {@link ITokenBroker.sessionsChanged} fires.
 */
export interface ISessionsChangeEvent {
  /** The provider whose sign-in state changed. */
  readonly provider: string;
}

/**
 * The token broker as JupyterLab plugins see it.
 *
 * @example
 * ```ts
 * const plugin: JupyterFrontEndPlugin<void> = {
 *   id: 'my-archive:plugin',
 *   autoStart: true,
 *   requires: [ITokenBroker],
 *   activate: async (_app: JupyterFrontEnd, broker: ITokenBroker) => {
 *     const session = await broker.getSession('demo', ['demo:read'], { createIfNone: true });
 *     await fetch('https://api.example.org/data', {
 *       headers: { Authorization: `Bearer ${session.accessToken}` }
 *     });
 *   }
 * };
 * ```
 */
export interface ITokenBroker {
  /**
   * Lists the providers and their sign-in state.
   *
   * @returns one entry per configured provider.
   * @throws {TokenBrokerRequestError} when the broker cannot be reached or answers an error.
   */
  providers(): Promise<ReadonlyArray<IProviderInfo>>;

  /**
   * Gets a fresh access token, signing in first when asked to.
   *
   * @param providerId - the provider id, e.g. `demo`.
   * @param scopes - the scopes to ask for; empty for the provider's default set.
   * @param options - `createIfNone: true` or `forceNewSession: true` resolve with a session or reject.
   * @returns the session, or `undefined` when no one is signed in and no sign-in was asked for.
   * @throws {TokenBrokerRequestError} for broker errors other than `login_required`.
   * @throws {SignInError} when a sign-in was needed and did not complete.
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
   * Fires after a sign-in or sign-out completes, or when the broker reports a changed sign-in state.
   */
  readonly sessionsChanged: ISignal<ITokenBroker, ISessionsChangeEvent>;

  /**
   * Signs in through a login popup. Call it synchronously from a click or key handler: the popup is
   * opened before anything is awaited so popup blockers let it through.
   *
   * @param providerId - the provider id.
   * @returns resolves when the sign-in completed.
   * @throws {SignInError} `popup_blocked`, `login_cancelled`, `login_timeout` or `login_failed`.
   * @throws {TokenBrokerRequestError} when the broker refuses to start the login.
   */
  signIn(providerId: string): Promise<void>;

  /**
   * Signs out: the broker forgets (and where possible revokes) the grant and every cached token.
   *
   * @param providerId - the provider id.
   * @throws {TokenBrokerRequestError} when the broker answers an error.
   */
  signOut(providerId: string): Promise<void>;
}

/**
 * The Lumino token of the token broker service.
 */
export const ITokenBroker = new Token<ITokenBroker>(
  'jupyter-token-broker:ITokenBroker',
  'Per-user OAuth/OIDC access tokens from the token broker.'
);

/**
 * Command ids of the token broker extension. `sign-in`, `sign-out` and `copy-header` take an
 * optional `{provider: string}` argument and ask which provider when it is missing.
 */
export const CommandIDs = {
  /** Sign in to a provider through a login popup. */
  signIn: 'token-broker:sign-in',
  /** Sign out of a provider. */
  signOut: 'token-broker:sign-out',
  /** Copy an `Authorization: Bearer …` header for a provider to the clipboard. */
  copyHeader: 'token-broker:copy-header',
  /** Open the Token Broker panel in the left sidebar. */
  openPanel: 'token-broker:open-panel'
} as const;
