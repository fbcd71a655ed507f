/**
 * The device authorization grant (RFC 8628): the broker starts it, shows the user a code and a URL,
 * and polls the token endpoint itself in the background, honouring `interval` and `slow_down`, until
 * the user finishes, refuses, or the code expires. The device code never leaves the broker.
 *
 * A device sign-in is in the audit trail like a browser one: `login.completed` is recorded before the
 * grant is stored (a trail that cannot be written leaves the user signed out, the login `failed`
 * with `store_unavailable`), and every failure (refused, expired, cancelled) is a `login.failed`.
 */
import { type Clock, epochSeconds } from '../clock.js';
import { BrokerError, InvalidRequest, UpstreamUnavailable } from '../errors.js';
import type { BrokerEvents } from '../events.js';
import type { Logger } from '../log.js';
import type { OidcProvider, TokenSet } from '../providers/oidc.js';
import type { Grant } from '../stores/tokenStore.js';
import type { TokenService } from '../tokens/service.js';

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
  /** The client label that started the login. */
  readonly client: string;
  status: DeviceLoginStatus;
}

/** What {@link DeviceLogins} needs. */
export interface DeviceLoginsOptions {
  readonly tokens: TokenService;
  /** Revokes the grant a sign-in replaced (`revocation.ts` `Revocations.replaced`). */
  readonly revocations: {
    replaced(
      target: OidcProvider,
      replaced: Grant | undefined,
      current: TokenSet,
      client: string
    ): Promise<void>;
  };
  readonly events: BrokerEvents;
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
 * const started = await devices.start(provider, ['openid', 'offline_access'], 'jupyterlab');
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
   * @param client - the client label of the caller, named by the login's audit event
   * @returns what to show the user
   * @throws {@link InvalidRequest} when the provider has no device flow
   * @throws `AuditUnavailable` when the sign-in could not be recorded (nothing is started)
   */
  async start(
    provider: OidcProvider,
    scopes: readonly string[],
    client: string
  ): Promise<DeviceLoginStarted> {
    await this.options.events.assertRecordable();
    const authorization = await provider.startDevice(scopes);
    this.running.get(provider.id)?.abort.abort();
    const expiresAt = epochSeconds(this.options.clock) + authorization.expiresIn;
    const entry: Running = {
      abort: new AbortController(),
      client,
      status: { status: 'pending', expires_at: expiresAt }
    };
    this.running.set(provider.id, entry);
    void this.poll(provider, scopes, authorization.deviceCode, authorization.interval, entry);
    // Logged, not an event: the sign-in is one event, when it completes or fails.
    this.options.log.info('login_started', {
      provider: provider.id,
      client,
      method: 'device',
      scopes
    });
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

  /**
   * The providers whose device login is still polling: started, neither finished, failed,
   * cancelled nor expired.
   *
   * @returns their provider ids
   * @example
   * ```ts
   * devices.active(); // ['demo'] until the user enters the code or it expires
   * ```
   */
  active(): string[] {
    const now = epochSeconds(this.options.clock);
    return [...this.running]
      .filter(
        ([, entry]) =>
          entry.status.status === 'pending' &&
          !entry.abort.signal.aborted &&
          entry.status.expires_at > now
      )
      .map(([provider]) => provider);
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
    const { events, tokens, clock } = this.options;
    const fail = async (error: BrokerError): Promise<void> => {
      const description = error.expose ? error.message : 'Internal error.';
      entry.status = {
        ...entry.status,
        status: 'failed',
        error: error.code,
        error_description: description
      };
      await events.emit({
        kind: 'login.failed',
        provider: provider.id,
        client: entry.client,
        method: 'device',
        code: error.code,
        status: error.status,
        description: error.message,
        upstreamSeconds: null
      });
    };
    let interval = firstInterval;
    for (;;) {
      await this.sleep(interval * 1000, signal);
      if (signal.aborted) {
        if (entry.status.status === 'pending') {
          await fail(new InvalidRequest('The device login was cancelled.'));
        }
        return;
      }
      if (epochSeconds(clock) >= entry.status.expires_at) {
        await fail(new InvalidRequest('The device code expired before the sign-in finished.'));
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
        // Recorded before the grant is stored, as a browser sign-in: a trail that cannot be
        // written fails the login (store_unavailable), never signs in without a record.
        await events.emit({
          kind: 'login.completed',
          provider: provider.id,
          client: entry.client,
          method: 'device',
          scopes: answer.scopes,
          refreshable: answer.refreshToken !== null,
          upstreamSeconds: null
        });
        const replaced = await tokens.signedIn(
          provider.id,
          answer,
          identity.account,
          identity.subject
        );
        // Best effort, never failing the sign-in (as a browser sign-in's, `signIn.ts`).
        await this.options.revocations.replaced(provider, replaced, answer, entry.client);
        entry.status = { status: 'done', expires_at: entry.status.expires_at };
        return;
      } catch (err) {
        if (err instanceof UpstreamUnavailable) {
          interval = Math.min(MAX_INTERVAL_S, interval * 2);
          continue;
        }
        await fail(
          err instanceof BrokerError
            ? err
            : new BrokerError('server_error', (err as Error)?.message ?? 'Internal error.', {
                cause: err
              })
        );
        return;
      }
    }
  }
}
