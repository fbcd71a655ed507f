/**
 * Logins in progress. A login's `state` is single-use, bound to the user who started it
 * (`X-Broker-User`), expires after `login_state_ttl_seconds`, and carries the PKCE verifier, nonce and
 * redirect URI the callback needs. Kept in memory only.
 *
 * Under JupyterHub a named server's `state` starts with its name, `<base64url(name)>.<random>`: the
 * IdP knows one redirect URI for every server (`/hub/user-redirect/…/callback`), and the hub's
 * `user_redirect_hook` (`jupyter_token_broker.hub`) reads the name there to send the callback to the
 * server that started the login. The default server's `state` is the random part alone.
 */
import { randomBytes } from 'node:crypto';

import { InvalidRequest } from './errors.js';

/** A login waiting for its callback. Holds the PKCE verifier: never log it. */
export interface PendingLogin {
  readonly provider: string;
  readonly user: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** The client label that started the login, named by the login's one audit event. */
  readonly client: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Most logins kept pending at once; the oldest are dropped first. */
const MAX_PENDING = 64;

/** A random URL-safe string with 256 bits of entropy. */
function random(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * A login's `state`: random, behind the JupyterHub server name when there is one.
 *
 * @param serverName - the named server that starts the login, or `''` / undefined for the default
 * @returns `<base64url(serverName)>.<random>`, or the random part alone
 * @example
 * ```ts
 * loginState('lab').startsWith('bGFi.'); // true
 * ```
 */
export function loginState(serverName: string | undefined): string {
  return serverName
    ? `${Buffer.from(serverName, 'utf8').toString('base64url')}.${random()}`
    : random();
}

/**
 * The pending logins.
 *
 * @example
 * ```ts
 * const logins = new LoginStates(600, () => Date.now() / 1000);
 * const login = logins.start({ provider: 'demo', user: 'alice', redirectUri, scopes: ['openid'], client: 'jupyterlab' });
 * const same = logins.take(login.state, 'alice');
 * ```
 */
export class LoginStates {
  private readonly pending = new Map<string, PendingLogin>();

  /**
   * @param ttlSeconds - lifetime of a login
   * @param nowSeconds - clock in epoch seconds
   */
  constructor(
    private readonly ttlSeconds: number,
    private readonly nowSeconds: () => number
  ) {}

  /**
   * Starts a login with fresh state, nonce and PKCE verifier.
   *
   * @param login - provider, user, redirect URI, scopes and the client that started it
   * @returns the pending login
   */
  start(login: {
    provider: string;
    user: string;
    redirectUri: string;
    scopes: readonly string[];
    client: string;
    /** The JupyterHub server name the state names (`X-Broker-Server-Name`), if any. */
    serverName?: string;
  }): PendingLogin {
    this.sweep();
    while (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
    }
    const { serverName, ...fields } = login;
    const pending: PendingLogin = {
      ...fields,
      scopes: [...login.scopes],
      state: loginState(serverName),
      nonce: random(),
      verifier: random(),
      expiresAt: this.nowSeconds() + this.ttlSeconds
    };
    this.pending.set(pending.state, pending);
    return pending;
  }

  /**
   * Takes a pending login for its callback. The state is consumed whatever the outcome, so a state
   * seen once (even by the wrong user) can never complete a login.
   *
   * @param state - the callback's `state`
   * @param user - the caller's `X-Broker-User`
   * @returns the pending login
   * @throws {@link InvalidRequest} when the state is unknown, used, expired or another user's
   */
  take(state: unknown, user: string): PendingLogin {
    if (typeof state !== 'string' || state === '') {
      throw new InvalidRequest('The callback has no state.');
    }
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (pending === undefined) {
      throw new InvalidRequest('Unknown or already used login state; start the sign-in again.');
    }
    if (pending.expiresAt <= this.nowSeconds()) {
      throw new InvalidRequest('The login expired; start the sign-in again.');
    }
    if (pending.user !== user) {
      throw new InvalidRequest('This login was started by another user.');
    }
    return pending;
  }

  /**
   * The providers of the logins waiting for their callback: started, neither taken nor expired.
   * Reads only (expired logins are dropped at the next start).
   *
   * @returns one provider id per waiting login, oldest first
   * @example
   * ```ts
   * logins.waiting(); // ['demo'] while a sign-in to demo waits for its callback
   * ```
   */
  waiting(): string[] {
    const now = this.nowSeconds();
    return [...this.pending.values()].filter(p => p.expiresAt > now).map(p => p.provider);
  }

  private sweep(): void {
    const now = this.nowSeconds();
    for (const [state, pending] of this.pending) {
      if (pending.expiresAt <= now) this.pending.delete(state);
    }
  }
}
