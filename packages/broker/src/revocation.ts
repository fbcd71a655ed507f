/**
 * Ending grants upstream: RFC 7009 token revocation of the refresh token at IdPs that publish a
 * `revocation_endpoint`, and a bounded queue that retries failed revocations with backoff.
 *
 * Invariants:
 * - a user's sign-out always forgets the grant locally, even when the IdP cannot be reached; the
 *   failed revocation is recorded and retried;
 * - an admin revocation without `force` keeps the grant when the IdP call fails (it can be tried
 *   again); with `force` it forgets it and queues the retry;
 * - queued revocations live in the store's records (namespace `revocations`) so a durable store keeps
 *   them across restarts; the queue holds at most `maxQueue` entries and gives up after
 *   `maxAttempts`, both recorded in the audit trail;
 * - only an unreachable or failing IdP (`upstream_unavailable`) is retried; an IdP that refuses the
 *   request outright will refuse it again.
 */
import { randomUUID } from 'node:crypto';

import type * as Oidc from 'openid-client';

import type { AuditTrail } from './audit.js';
import { type Clock, epochSeconds } from './clock.js';
import { BrokerError, StoreUnavailable, UpstreamError, UpstreamUnavailable } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { translate } from './providers/translate.js';
import type { Tokens } from './refresh.js';
import type { RecordStore } from './stores/records.js';
import type { Grant, TokenStore } from './stores/tokenStore.js';

/** A provider whose grants can be revoked: OIDC providers expose their discovered configuration. */
export interface RevocationTarget {
  readonly id: string;
  discover?(): Promise<Oidc.Configuration>;
}

/** What became of the upstream side of a revocation. */
export type UpstreamOutcome = 'revoked' | 'not_supported' | 'retrying' | 'refused';

/** The result of ending one provider's grant. */
export type EndResult =
  | { readonly ended: false; readonly reason: 'not_signed_in' }
  | { readonly ended: true; readonly upstream: UpstreamOutcome; readonly error?: BrokerError }
  | { readonly ended: false; readonly reason: 'upstream_failed'; readonly error: BrokerError };

/** Who asked for the revocation. */
export interface RevocationRequest {
  readonly client: string;
  /** `user` (sign-out) or `admin`. */
  readonly by: 'user' | 'admin';
  /** The admin's reason; sign-outs say `sign-out`. */
  readonly reason: string;
  /** Forget locally even when the IdP call fails (always true for a user's sign-out). */
  readonly force: boolean;
}

/** A queued revocation as stored. Holds a refresh token: never log it. */
interface QueuedRevocation {
  readonly provider: string;
  readonly token: string;
  readonly attempts: number;
  /** Epoch seconds of the next attempt. */
  readonly next_at: number;
  /** Epoch seconds when it was queued. */
  readonly queued_at: number;
  readonly reason: string;
}

const NAMESPACE = 'revocations';

/**
 * Seconds before retry number `attempt` of a failed revocation.
 *
 * @param attempt - failed attempts so far, at least 1
 * @returns 30, 60, 120, … capped at one hour
 * @example
 * ```ts
 * revocationRetrySeconds(1); // 30
 * ```
 */
export function revocationRetrySeconds(attempt: number): number {
  return Math.min(3600, 30 * 2 ** Math.max(0, attempt - 1));
}

let library: Promise<typeof Oidc> | undefined;
function openidClient(): Promise<typeof Oidc> {
  library ??= import('openid-client');
  return library;
}

/** What {@link Revocations} needs. */
export interface RevocationsOptions {
  readonly store: TokenStore;
  readonly records: RecordStore;
  readonly tokens: Tokens;
  readonly lookup: (provider: string) => RevocationTarget | undefined;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly log: Logger;
  /** Most revocations waiting for a retry. */
  readonly maxQueue?: number;
  /** Attempts before a queued revocation is given up. */
  readonly maxAttempts?: number;
}

/**
 * Sign-out and admin revocation, and the retry queue of revocations the IdP did not take.
 *
 * @example
 * ```ts
 * const result = await revocations.end(provider, { client: 'jupyterlab', by: 'user', reason: 'sign-out', force: true });
 * ```
 */
export class Revocations {
  private timer: NodeJS.Timeout | undefined;
  private readonly maxQueue: number;
  private readonly maxAttempts: number;

  constructor(private readonly options: RevocationsOptions) {
    this.maxQueue = options.maxQueue ?? 100;
    this.maxAttempts = options.maxAttempts ?? 10;
  }

  /**
   * Ends a provider's grant: revokes its refresh token upstream and forgets it locally.
   *
   * @param target - the provider
   * @param request - who asks, why, and whether to force
   * @returns what happened
   * @throws {@link StoreUnavailable} when the grant cannot be read or deleted
   */
  async end(target: RevocationTarget, request: RevocationRequest): Promise<EndResult> {
    const { tokens, audit } = this.options;
    const grant = await this.readGrant(target.id);
    if (grant === undefined) {
      // Nothing held: still make sure no cached token survives (idempotent sign-out).
      await tokens.signOut(target.id);
      return { ended: false, reason: 'not_signed_in' };
    }
    if (request.by === 'user') await tokens.signOut(target.id);
    let upstream: UpstreamOutcome;
    let error: BrokerError | undefined;
    try {
      upstream =
        grant.refreshToken === null
          ? 'not_supported'
          : await this.revokeUpstream(target, grant.refreshToken);
    } catch (err) {
      error =
        err instanceof BrokerError ? err : new UpstreamError('Revocation failed.', { cause: err });
      upstream = 'retrying';
    }
    const event = {
      type: 'revoke' as const,
      provider: target.id,
      client: request.client,
      scopes: grant.scopes,
      reason: `${request.by}: ${request.reason}`
    };
    if (error === undefined) {
      if (request.by === 'admin') await tokens.signOut(target.id);
      audit.note({
        ...event,
        outcome: 'ok',
        ...(upstream === 'not_supported' ? { code: 'not_supported' } : {})
      });
      return { ended: true, upstream };
    }
    audit.note({ ...event, outcome: 'error', code: error.code });
    if (!request.force) return { ended: false, reason: 'upstream_failed', error };
    if (request.by === 'admin') await tokens.signOut(target.id);
    if (error instanceof UpstreamUnavailable && grant.refreshToken !== null) {
      await this.enqueue(target.id, grant.refreshToken, `${request.by}: ${request.reason}`);
      return { ended: true, upstream: 'retrying', error };
    }
    return { ended: true, upstream: 'refused', error };
  }

  /**
   * Revokes a refresh token at the provider's revocation endpoint (RFC 7009).
   *
   * @param target - the provider
   * @param refreshToken - the token to revoke
   * @returns `revoked`, or `not_supported` when the IdP has no revocation endpoint
   * @throws {@link UpstreamUnavailable} when the IdP is unreachable, slow or failing
   * @throws {@link UpstreamError} when it refused the request
   */
  async revokeUpstream(target: RevocationTarget, refreshToken: string): Promise<UpstreamOutcome> {
    if (target.discover === undefined) return 'not_supported';
    const configuration = await target.discover();
    if (configuration.serverMetadata().revocation_endpoint === undefined) return 'not_supported';
    const oc = await openidClient();
    try {
      await this.options.metrics.timeUpstream(target.id, 'revocation', () =>
        oc.tokenRevocation(configuration, refreshToken, { token_type_hint: 'refresh_token' })
      );
    } catch (err) {
      throw translate(oc, err, 'revocation', target.id);
    }
    return 'revoked';
  }

  /**
   * Queues a revocation for a later retry, dropping the oldest when the queue is full.
   *
   * @param provider - provider id
   * @param token - the refresh token to revoke
   * @param reason - why it was revoked
   */
  async enqueue(provider: string, token: string, reason: string): Promise<void> {
    const { records, audit } = this.options;
    const queued = await this.entries();
    const now = this.now();
    if (queued.length >= this.maxQueue) {
      const oldest = queued.sort((a, b) => a[1].queued_at - b[1].queued_at)[0];
      await this.guard(() => records.deleteRecord(NAMESPACE, oldest[0]));
      audit.note({
        type: 'revoke',
        provider: oldest[1].provider,
        client: null,
        outcome: 'error',
        code: 'upstream_unavailable',
        reason: 'retry queue full: the oldest pending revocation was dropped'
      });
    }
    const entry: QueuedRevocation = {
      provider,
      token,
      attempts: 1,
      next_at: now + revocationRetrySeconds(1),
      queued_at: now,
      reason
    };
    await this.guard(() => records.putRecord(NAMESPACE, randomUUID(), JSON.stringify(entry)));
    this.schedule(entry.next_at);
  }

  /** Number of revocations waiting for a retry. */
  async pending(): Promise<number> {
    return (await this.entries()).length;
  }

  /**
   * Retries every queued revocation that is due.
   *
   * @returns how many succeeded and how many are still waiting
   */
  async retryDue(): Promise<{ revoked: number; waiting: number }> {
    const { records, audit, log } = this.options;
    let revoked = 0;
    const now = this.now();
    for (const [id, entry] of await this.entries()) {
      if (entry.next_at > now) continue;
      const target = this.options.lookup(entry.provider);
      const event = {
        type: 'revoke' as const,
        provider: entry.provider,
        client: null,
        reason: `retry ${entry.attempts}: ${entry.reason}`
      };
      try {
        if (target === undefined) throw new UpstreamError('The provider is no longer configured.');
        await this.revokeUpstream(target, entry.token);
        await this.guard(() => records.deleteRecord(NAMESPACE, id));
        audit.note({ ...event, outcome: 'ok' });
        revoked++;
      } catch (err) {
        const code = err instanceof BrokerError ? err.code : 'server_error';
        const attempts = entry.attempts + 1;
        if (!(err instanceof UpstreamUnavailable) || attempts > this.maxAttempts) {
          await this.guard(() => records.deleteRecord(NAMESPACE, id)).catch(() => undefined);
          audit.note({ ...event, outcome: 'error', code, reason: `gave up: ${event.reason}` });
          log.warn('revocation_given_up', { provider: entry.provider, attempts, error: code });
          continue;
        }
        const next: QueuedRevocation = {
          ...entry,
          attempts,
          next_at: now + revocationRetrySeconds(attempts)
        };
        await this.guard(() => records.putRecord(NAMESPACE, id, JSON.stringify(next))).catch(
          () => undefined
        );
        audit.note({ ...event, outcome: 'error', code });
      }
    }
    const waiting = await this.entries();
    if (waiting.length > 0) this.schedule(Math.min(...waiting.map(([, e]) => e.next_at)));
    return { revoked, waiting: waiting.length };
  }

  /** Picks up revocations a durable store kept across a restart. Never rejects. */
  async resume(): Promise<void> {
    try {
      const waiting = await this.entries();
      if (waiting.length > 0) this.schedule(Math.min(...waiting.map(([, e]) => e.next_at)));
    } catch (err) {
      this.options.log.warn('revocation_queue_unreadable', { reason: (err as Error).message });
    }
  }

  /** Stops the retry timer. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Arms the timer for the earliest due retry; it never keeps the process alive. */
  private schedule(at: number): void {
    const delay = Math.max(1, at - this.now()) * 1000;
    this.close();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.retryDue().catch(err =>
          this.options.log.warn('revocation_retry_failed', { reason: (err as Error).message })
        );
      },
      Math.min(delay, 2 ** 31 - 1)
    );
    this.timer.unref();
  }

  private async entries(): Promise<Array<[string, QueuedRevocation]>> {
    const raw = await this.guard(() => this.options.records.getRecords(NAMESPACE));
    const out: Array<[string, QueuedRevocation]> = [];
    for (const [id, value] of Object.entries(raw)) {
      try {
        out.push([id, JSON.parse(value) as QueuedRevocation]);
      } catch {
        // An unreadable entry cannot be retried; leave it for an operator rather than guess.
      }
    }
    return out;
  }

  private async readGrant(provider: string): Promise<Grant | undefined> {
    return this.guard(() => this.options.store.get(provider));
  }

  private now(): number {
    return epochSeconds(this.options.clock);
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw err instanceof BrokerError ? err : new StoreUnavailable({ cause: err });
    }
  }
}
