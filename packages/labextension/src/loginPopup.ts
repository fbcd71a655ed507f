/**
 * The login popup: opened synchronously in a click handler, sent to the IdP's authorization URL,
 * and watched until the broker's callback page reports back or the person closes it.
 */
import { SignInError } from './errors';

/** The window name every login popup uses, so a second sign-in reuses the same popup. */
const POPUP_NAME = 'token-broker-login';

/** Popup size; `popup` asks for a minimal window instead of a tab. */
const POPUP_FEATURES = 'popup,width=520,height=720';

/** The `source` the broker's callback page puts in its `postMessage`. */
const MESSAGE_SOURCE = 'jupyter-token-broker';

/**
 * The parts of `window` the popup needs; a seam for tests.
 */
export type LoginHost = Pick<
  Window,
  'open' | 'addEventListener' | 'removeEventListener' | 'setInterval' | 'clearInterval' | 'location'
>;

/**
 * How a login ended when it did not fail: the callback page said so (`completed`), or the popup was
 * closed without a word (`closed`, the caller checks the broker's state to tell success from cancel).
 */
export type LoginOutcome = 'completed' | 'closed';

/**
 * Timing of the watch loop.
 */
export interface ILoginTiming {
  /** How often to check whether the popup was closed, in ms. */
  readonly pollIntervalMs: number;
  /** Give up (and close the popup) after this many ms; the broker's login state expires too. */
  readonly timeoutMs: number;
}

/** Default timing: check twice a second, give up after ten minutes (the broker's state lifetime). */
export const DEFAULT_LOGIN_TIMING: ILoginTiming = { pollIntervalMs: 500, timeoutMs: 600_000 };

/**
 * One login popup and its watcher.
 */
export class LoginPopup {
  private readonly _host: LoginHost;
  private readonly _popup: Window;
  private _stop: ((error?: SignInError) => void) | null = null;

  private constructor(host: LoginHost, popup: Window) {
    this._host = host;
    this._popup = popup;
  }

  /**
   * Opens the popup. Call it synchronously from a user gesture, before any `await`.
   *
   * @param host - the window that opens the popup.
   * @param heading - text shown in the popup until the IdP's page loads.
   * @returns the popup.
   * @throws {SignInError} `popup_blocked` when the browser refused to open it.
   */
  static open(host: LoginHost, heading: string): LoginPopup {
    const popup = host.open('', POPUP_NAME, POPUP_FEATURES);
    if (!popup) {
      throw new SignInError(
        'popup_blocked',
        'The browser blocked the login popup. Allow popups for this site and try again.'
      );
    }
    try {
      popup.document.title = 'Token Broker';
      popup.document.body.textContent = heading;
    } catch {
      // A popup left on another origin by an earlier login is not ours to write to; it is
      // navigated away right after.
    }
    return new LoginPopup(host, popup);
  }

  /**
   * Sends the popup to the IdP.
   *
   * @param authorizationUrl - the broker's `authorization_url`.
   * @throws {SignInError} `login_failed` when the URL is not http(s).
   */
  navigate(authorizationUrl: string): void {
    if (!isHttpUrl(authorizationUrl)) {
      this.close();
      throw new SignInError('login_failed', 'The token broker answered an unusable login address.');
    }
    this._popup.location.href = authorizationUrl;
  }

  /**
   * Waits until the callback page reports the login for `providerId`, the popup is closed, or the
   * timeout passes.
   *
   * @param providerId - only a report for this provider (or for no known provider) ends the wait.
   * @param timing - poll interval and timeout.
   * @returns how the login ended.
   * @throws {SignInError} `login_failed` when the callback reports a failure, `login_timeout`,
   *   or `login_cancelled` when {@link LoginPopup.abandon} was called.
   */
  waitForResult(
    providerId: string,
    timing: ILoginTiming = DEFAULT_LOGIN_TIMING
  ): Promise<LoginOutcome> {
    return new Promise<LoginOutcome>((resolve, reject) => {
      const startedAt = Date.now();
      const onMessage = (event: MessageEvent): void => {
        // Only our own origin's callback page may report; anything else is ignored.
        if (event.origin !== this._host.location.origin || !isLoginMessage(event.data)) {
          return;
        }
        // `provider: null` is the callback's answer to a state it could not match to any login
        // (expired, replayed); with one login at a time it belongs to this one.
        if (event.data.provider !== null && event.data.provider !== providerId) {
          return;
        }
        if (event.data.ok) {
          finish();
          resolve('completed');
        } else {
          finish();
          reject(new SignInError('login_failed', describeFailure(event.data.error)));
        }
      };
      const poll = this._host.setInterval(() => {
        if (this._popup.closed) {
          finish();
          resolve('closed');
        } else if (Date.now() - startedAt > timing.timeoutMs) {
          this.close();
          finish();
          reject(new SignInError('login_timeout', 'The sign-in did not complete in time.'));
        }
      }, timing.pollIntervalMs);
      const finish = (): void => {
        this._host.removeEventListener('message', onMessage);
        this._host.clearInterval(poll);
        this._stop = null;
      };
      this._stop = (error?: SignInError) => {
        finish();
        if (error) {
          reject(error);
        }
      };
      this._host.addEventListener('message', onMessage);
    });
  }

  /**
   * Stops watching without closing the popup (another sign-in took it over).
   */
  abandon(): void {
    this._stop?.(
      new SignInError('login_cancelled', 'Another sign-in started before this one completed.')
    );
  }

  /**
   * Closes the popup if it is still open.
   */
  close(): void {
    try {
      if (!this._popup.closed) {
        this._popup.close();
      }
    } catch {
      // Closing a popup the browser already tore down is not an error.
    }
  }
}

/**
 * The message the broker's callback page posts to its opener.
 */
interface ILoginMessage {
  readonly source: typeof MESSAGE_SOURCE;
  readonly type: 'login';
  readonly provider: string | null;
  readonly ok: boolean;
  readonly error?: unknown;
}

function isLoginMessage(data: unknown): data is ILoginMessage {
  if (typeof data !== 'object' || data === null) {
    return false;
  }
  const message = data as Record<string, unknown>;
  return (
    message.source === MESSAGE_SOURCE &&
    message.type === 'login' &&
    (typeof message.provider === 'string' || message.provider === null) &&
    typeof message.ok === 'boolean'
  );
}

/** A readable reason from the callback's `error`, which is a code or `{error, error_description}`. */
function describeFailure(error: unknown): string {
  if (typeof error === 'string' && error !== '') {
    return `The identity provider or the broker refused the login (${error}).`;
  }
  if (typeof error === 'object' && error !== null) {
    const record = error as Record<string, unknown>;
    const code = typeof record.error === 'string' ? record.error : 'login_failed';
    const text =
      typeof record.error_description === 'string' ? record.error_description : 'login failed';
    return `${text} (${code})`;
  }
  return 'The login did not complete.';
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
