/**
 * The device authorization grant (RFC 8628): the broker starts it, shows the user a code and a URL,
 * and polls the token endpoint itself in the background, honouring `interval` and `slow_down`, until
 * the user finishes, refuses, or the code expires. The device code never leaves the broker.
 */
import { type Clock, epochSeconds } from '../clock.js';
import { BrokerError, UpstreamUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { OidcProvider } from '../providers/oidc.js';
import type { Tokens } from '../refresh.js';

/** RFC 8628 §3.5: each `slow_down` adds five seconds to the interval. */
const SLOW_DOWN_S = 5;
/** The longest wait between polls while the IdP is unreachable. */
const MAX_INTERVAL_S = 60;

/** What `POST …/login {method: "device"}` answers. No secret in it. */
export interface DeviceLoginStarted {
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete?: string;
  /** Epoch seconds when the code expires. */
  readonly expires_at: number;
  /** Seconds between the broker's polls. */
  readonly interval: number;
}

/** How a device login stands. */
export interface DeviceLoginStatus {
  readonly status: 'pending' | 'done' | 'failed';
  readonly expires_at: number;
  /** The stable code of a failure. */
  readonly error?: string;
  readonly error_description?: string;
}

/** Waits `ms`, or less when the signal aborts. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

const realSleep: Sleep = (ms, signal) =>
  new Promise(resolve => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

interface Running {
  readonly abort: AbortController;
  status: DeviceLoginStatus;
}

/** What {@link DeviceLogins} needs. */
export interface DeviceLoginsOptions {
  readonly tokens: Tokens;
  readonly clock: Clock;
  readonly log: Logger;
  /** Seam for tests; the default uses timers. */
  readonly sleep?: Sleep;
}

/**
 * Device logins, at most one per provider (a new one replaces the old).
 *
 * @example
 * ```ts
 * const started = await devices.start(provider, ['openid', 'offline_access']);
 * // show started.user_code and started.verification_uri; poll devices.status(provider.id)
 * ```
 */
export class DeviceLogins {
  private readonly running = new Map<string, Running>();
  private readonly sleep: Sleep;

  constructor(private readonly options: DeviceLoginsOptions) {
    this.sleep = options.sleep ?? realSleep;
  }

  /**
   * Starts a device login and its background polling.
   *
   * @param provider - the provider (must offer the device flow)
   * @param scopes - scopes to ask
   * @returns what to show the user
   * @throws {@link InvalidRequest} when the provider has no device flow
   */
  async start(provider: OidcProvider, scopes: readonly string[]): Promise<DeviceLoginStarted> {
    const authorization = await provider.startDevice(scopes);
    this.running.get(provider.id)?.abort.abort();
    const expiresAt = epochSeconds(this.options.clock) + authorization.expiresIn;
    const entry: Running = {
      abort: new AbortController(),
      status: { status: 'pending', expires_at: expiresAt }
    };
    this.running.set(provider.id, entry);
    void this.poll(provider, scopes, authorization.deviceCode, authorization.interval, entry);
    this.options.log.info('login_started', { provider: provider.id, method: 'device', scopes });
    return {
      user_code: authorization.userCode,
      verification_uri: authorization.verificationUri,
      ...(authorization.verificationUriComplete === undefined
        ? {}
        : { verification_uri_complete: authorization.verificationUriComplete }),
      expires_at: expiresAt,
      interval: authorization.interval
    };
  }

  /**
   * How the provider's last device login stands.
   *
   * @param provider - provider id
   * @returns the status, or undefined when none was started
   */
  status(provider: string): DeviceLoginStatus | undefined {
    return this.running.get(provider)?.status;
  }

  /** Stops every background poll (shutdown, sign-out). */
  cancel(provider?: string): void {
    for (const [id, entry] of this.running) {
      if (provider === undefined || id === provider) entry.abort.abort();
    }
  }

  private async poll(
    provider: OidcProvider,
    scopes: readonly string[],
    deviceCode: string,
    firstInterval: number,
    entry: Running
  ): Promise<void> {
    const { signal } = entry.abort;
    const { log, tokens, clock } = this.options;
    const fail = (code: string, description: string): void => {
      entry.status = {
        ...entry.status,
        status: 'failed',
        error: code,
        error_description: description
      };
      log.info('login_failed', {
        provider: provider.id,
        method: 'device',
        error: code,
        reason: description
      });
    };
    let interval = firstInterval;
    for (;;) {
      await this.sleep(interval * 1000, signal);
      if (signal.aborted) {
        if (entry.status.status === 'pending')
          fail('invalid_request', 'The device login was cancelled.');
        return;
      }
      if (epochSeconds(clock) >= entry.status.expires_at) {
        fail('invalid_request', 'The device code expired before the sign-in finished.');
        return;
      }
      try {
        const answer = await provider.pollDevice(deviceCode, scopes);
        if (answer === 'authorization_pending') continue;
        if (answer === 'slow_down') {
          interval += SLOW_DOWN_S;
          continue;
        }
        if (signal.aborted) return;
        const identity = await provider.identify(answer);
        await tokens.signedIn(provider.id, answer, identity.account, identity.subject);
        entry.status = { status: 'done', expires_at: entry.status.expires_at };
        log.info('login_completed', {
          provider: provider.id,
          method: 'device',
          scopes: answer.scopes,
          refreshable: answer.refreshToken !== null
        });
        return;
      } catch (err) {
        if (err instanceof UpstreamUnavailable) {
          interval = Math.min(MAX_INTERVAL_S, interval * 2);
          continue;
        }
        const broker = err instanceof BrokerError ? err : undefined;
        fail(broker?.code ?? 'server_error', broker?.expose ? broker.message : 'Internal error.');
        return;
      }
    }
  }
}
