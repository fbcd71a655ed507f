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
 *   request outright will refuse it again;
 * - what happens is reported as broker events (`grant.revoked`, `logout`, `admin.revoked`,
 *   `revocation.retried`, `revocation.dropped`, `access.denied`); a sign-out and an admin revocation
 *   are in the audit trail before they are answered.
 */
import { randomUUID } from 'node:crypto';

import type * as Oidc from 'openid-client';

import { type Clock, epochSeconds } from './clock.js';
import { BrokerError, UpstreamError, UpstreamUnavailable } from './errors.js';
import { type BrokerEvents, stopwatch, type UpstreamOutcome } from './events.js';
import type { Logger } from './log.js';
import { translate } from './providers/translate.js';
import type { TokenService } from './tokens/service.js';
import type { RecordStore } from './stores/records.js';
import type { TokenStore } from './stores/tokenStore.js';

export type { UpstreamOutcome } from './events.js';

/** A provider whose grants can be revoked: OIDC providers expose their discovered configuration. */
export interface RevocationTarget {
  readonly id: string;
  /** `hub`: the login is the hub's, which no sign-out here can end. */
  readonly config: { readonly kind: string };
  discover?(): Promise<Oidc.Configuration>;
}

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

/** Where the duration of an upstream revocation call is left, when one was made. */
interface Timed {
  seconds: number | null;
}

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
  readonly tokens: TokenService;
  readonly lookup: (provider: string) => RevocationTarget | undefined;
  readonly events: BrokerEvents;
  readonly clock: Clock;
  readonly log: Logger;
  /** Most revocations waiting for a retry. */
  readonly maxQueue?: number;
  /** Attempts before a queued revocation is given up. */
  readonly maxAttempts?: number;
}

/** What an admin revocation did: the providers whose grant ended, and those the IdP failed. */
export interface AdminRevocation {
  readonly revoked: Array<{ provider: string; upstream: UpstreamOutcome }>;
  readonly failed: Array<{ provider: string; error: string }>;
}

/**
 * Sign-out and admin revocation, and the retry queue of revocations the IdP did not take.
 *
 * @example
 * ```ts
 * await revocations.signOut(provider, 'jupyterlab');
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
   * The user's sign-out: forgets the grant and every cached token, revokes the refresh token
   * upstream (queued for a retry when the IdP cannot take it now); idempotent.
   *
   * @param target - the provider
   * @param client - the client label of the caller
   * @throws `AuditUnavailable` when the sign-out cannot be recorded (nothing is changed)
   * @throws {@link BrokerError} 403 `forbidden` for a `hub` provider, whose login the hub holds
   */
  async signOut(target: RevocationTarget, client: string): Promise<void> {
    const { events } = this.options;
    await events.assertRecordable();
    if (target.config.kind === 'hub') {
      // The hub holds this login; forgetting a cached token here would end nothing.
      await events.emit({
        kind: 'access.denied',
        provider: target.id,
        client,
        code: 'forbidden',
        reason: 'sign-out of the hub login'
      });
      throw new BrokerError(
        'forbidden',
        `Provider '${target.id}' is managed by the hub: sign out of JupyterHub to end it.`
      );
    }
    // The user asked to sign out: the grant is forgotten even when the IdP cannot revoke it now
    // (the revocation is then queued and retried).
    const result = await this.end(target, {
      client,
      by: 'user',
      reason: 'sign-out',
      force: true
    });
    await events.emit({
      kind: 'logout',
      provider: target.id,
      client,
      upstream: result.ended ? result.upstream : null
    });
  }

  /**
   * Refuses an admin revocation to a caller without the admin role (recorded as a denial).
   *
   * @param admin - whether the caller holds the admin role
   * @param client - the client label of the caller
   * @throws {@link BrokerError} 403 `forbidden` when `admin` is false
   */
  async requireAdmin(admin: boolean, client: string): Promise<void> {
    if (admin) return;
    await this.options.events.emit({
      kind: 'access.denied',
      provider: null,
      client,
      code: 'forbidden',
      reason: 'admin revocation without the admin role'
    });
    throw new BrokerError('forbidden', 'Only an admin can revoke grants.');
  }

  /**
   * An admin revocation: ends the grant of each target that holds one.
   *
   * @param targets - the providers
   * @param request - the admin's client label, reason and `force`; `provider` as asked (null: all)
   * @returns the providers revoked and those whose IdP failed (their grant kept unless `force`)
   * @throws `AuditUnavailable` when the revocation cannot be recorded
   */
  async revokeAll(
    targets: readonly RevocationTarget[],
    request: { client: string; reason: string; force: boolean; provider: string | null }
  ): Promise<AdminRevocation> {
    const { events } = this.options;
    await events.assertRecordable();
    const revoked: AdminRevocation['revoked'] = [];
    const failed: AdminRevocation['failed'] = [];
    for (const target of targets) {
      const result = await this.end(target, { ...request, by: 'admin' });
      if (result.ended) revoked.push({ provider: target.id, upstream: result.upstream });
      else if (result.reason === 'upstream_failed') {
        failed.push({ provider: target.id, error: result.error.code });
      }
    }
    await events.emit({
      kind: 'admin.revoked',
      provider: request.provider,
      client: request.client,
      reason: request.reason,
      force: request.force,
      revoked: revoked.length,
      failed: failed.length
    });
    return { revoked, failed };
  }

  /**
   * Ends a provider's grant: revokes its refresh token upstream and forgets it locally.
   *
   * @param target - the provider
   * @param request - who asks, why, and whether to force
   * @returns what happened
   * @throws `StoreUnavailable` when the grant cannot be read or deleted
   */
  async end(target: RevocationTarget, request: RevocationRequest): Promise<EndResult> {
    const { tokens, events } = this.options;
    const grant = await this.options.store.get(target.id);
    if (grant === undefined) {
      // Nothing held: still make sure no cached token survives (idempotent sign-out).
      await tokens.signOut(target.id);
      return { ended: false, reason: 'not_signed_in' };
    }
    if (request.by === 'user') await tokens.signOut(target.id);
    let upstream: 'revoked' | 'not_supported';
    let error: BrokerError | undefined;
    const timed: Timed = { seconds: null };
    try {
      upstream =
        grant.refreshToken === null
          ? 'not_supported'
          : await this.revokeUpstream(target, grant.refreshToken, timed);
    } catch (err) {
      error =
        err instanceof BrokerError ? err : new UpstreamError('Revocation failed.', { cause: err });
      upstream = 'not_supported';
    }
    await events.emit({
      kind: 'grant.revoked',
      provider: target.id,
      client: request.client,
      by: request.by,
      reason: request.reason,
      scopes: grant.scopes,
      upstream: error === undefined ? upstream : 'failed',
      ...(error === undefined ? {} : { code: error.code }),
      seconds: timed.seconds
    });
    if (error === undefined) {
      if (request.by === 'admin') await tokens.signOut(target.id);
      return { ended: true, upstream };
    }
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
   * @param timed - gets the duration of the revocation call, when one is made
   * @returns `revoked`, or `not_supported` when the IdP has no revocation endpoint
   * @throws {@link UpstreamUnavailable} when the IdP is unreachable, slow or failing
   * @throws {@link UpstreamError} when it refused the request
   */
  private async revokeUpstream(
    target: RevocationTarget,
    refreshToken: string,
    timed: Timed
  ): Promise<'revoked' | 'not_supported'> {
    if (target.discover === undefined) return 'not_supported';
    const configuration = await target.discover();
    if (configuration.serverMetadata().revocation_endpoint === undefined) return 'not_supported';
    const oc = await openidClient();
    const elapsed = stopwatch();
    try {
      await oc.tokenRevocation(configuration, refreshToken, { token_type_hint: 'refresh_token' });
    } catch (err) {
      timed.seconds = elapsed();
      throw translate(oc, err, 'revocation', target.id);
    }
    timed.seconds = elapsed();
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
    const { records, events } = this.options;
    const queued = await this.entries();
    const now = this.now();
    if (queued.length >= this.maxQueue) {
      const oldest = queued.sort((a, b) => a[1].queued_at - b[1].queued_at)[0];
      await records.deleteRecord(NAMESPACE, oldest[0]);
      await events.emit({ kind: 'revocation.dropped', provider: oldest[1].provider });
    }
    const entry: QueuedRevocation = {
      provider,
      token,
      attempts: 1,
      next_at: now + revocationRetrySeconds(1),
      queued_at: now,
      reason
    };
    await records.putRecord(NAMESPACE, randomUUID(), JSON.stringify(entry));
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
    const { records, events } = this.options;
    let revoked = 0;
    const now = this.now();
    for (const [id, entry] of await this.entries()) {
      if (entry.next_at > now) continue;
      const target = this.options.lookup(entry.provider);
      const attempts = entry.attempts + 1;
      const timed: Timed = { seconds: null };
      const retried = {
        kind: 'revocation.retried' as const,
        provider: entry.provider,
        attempts,
        reason: entry.reason
      };
      try {
        if (target === undefined) throw new UpstreamError('The provider is no longer configured.');
        await this.revokeUpstream(target, entry.token, timed);
        await records.deleteRecord(NAMESPACE, id);
        await events.emit({ ...retried, gaveUp: false, seconds: timed.seconds });
        revoked++;
      } catch (err) {
        const code = err instanceof BrokerError ? err.code : 'server_error';
        if (!(err instanceof UpstreamUnavailable) || attempts > this.maxAttempts) {
          await records.deleteRecord(NAMESPACE, id).catch(() => undefined);
          await events.emit({ ...retried, code, gaveUp: true, seconds: timed.seconds });
          continue;
        }
        const next: QueuedRevocation = {
          ...entry,
          attempts,
          next_at: now + revocationRetrySeconds(attempts)
        };
        await records.putRecord(NAMESPACE, id, JSON.stringify(next)).catch(() => undefined);
        await events.emit({ ...retried, code, gaveUp: false, seconds: timed.seconds });
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
    const raw = await this.options.records.getRecords(NAMESPACE);
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

  private now(): number {
    return epochSeconds(this.options.clock);
  }
}
