/**
 * Ending grants upstream: RFC 7009 token revocation of the refresh token at IdPs that have a
 * revocation endpoint (configured, OIDC discovery, or RFC 8414 metadata: `providers/oidc.ts`), and
 * a bounded queue that retries failed revocations with backoff.
 *
 * Invariants:
 * - the grant revoked is taken under its store lock, the lock refreshes hold from reading the
 *   refresh token to storing the rotated one (`TokenService.takeGrant`): a refresh in flight, here
 *   or in another broker on the store, can never leave its rotated refresh token live upstream;
 * - a user's sign-out always forgets the grant locally, even when the IdP cannot be reached; the
 *   failed revocation is recorded and retried; the answer says when the IdP did not revoke
 *   ({@link SignOutResult}), and so does the audit trail;
 * - a new sign-in revokes the grant it replaced ({@link Revocations.replaced}), best effort: it
 *   never fails the sign-in and it is recorded; it is kept when revoking it could end the new
 *   sign-in too (the same IdP session, or an IdP that does not say: {@link keepReplacedGrant});
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

import { type Clock, epochSeconds } from './clock.js';
import { BrokerError, UpstreamError, UpstreamUnavailable } from './errors.js';
import { type BrokerEvents, stopwatch, type UpstreamOutcome } from './events.js';
import type { Logger } from './log.js';
import type { TokenService } from './tokens/service.js';
import type { RecordStore } from './stores/records.js';
import type { Grant, TokenStore } from './stores/tokenStore.js';

export type { UpstreamOutcome } from './events.js';

/** A provider whose grants can be revoked: OAuth providers revoke at their IdP. */
export interface RevocationTarget {
  readonly id: string;
  /**
   * `hub`: the login is the hub's, which no sign-out here can end. `revoke_replaced_grant`: see
   * {@link keepReplacedGrant} (default `auto`).
   */
  readonly config: { readonly kind: string; readonly revoke_replaced_grant?: boolean | 'auto' };
  /**
   * Revokes a refresh token at the IdP (RFC 7009).
   *
   * @returns `revoked`, or `no_endpoint` when the IdP has no revocation endpoint
   * @throws {@link UpstreamUnavailable} when the IdP is unreachable, slow or failing
   * @throws {@link UpstreamError} when it refused the request
   */
  revoke?(refreshToken: string): Promise<'revoked' | 'no_endpoint'>;
}

/** Why the IdP was not asked to revoke: it has no revocation endpoint, or there was no refresh token. */
export type NotAsked = 'no_revocation_endpoint' | 'no_refresh_token';

/** The result of ending one provider's grant. */
export type EndResult =
  | { readonly ended: false; readonly reason: 'not_signed_in' }
  | {
      readonly ended: true;
      readonly upstream: UpstreamOutcome;
      readonly error?: BrokerError;
      /** Set when `upstream` is `not_supported`. */
      readonly notAsked?: NotAsked;
    }
  | { readonly ended: false; readonly reason: 'upstream_failed'; readonly error: BrokerError };

/**
 * What a sign-out did at the IdP, as the sign-out's answer says it: nothing to say when the IdP
 * revoked the refresh token (or there was no grant), else what happened and what it means.
 */
export type SignOutResult =
  | { readonly revoked: true }
  | {
      readonly revoked: false;
      /** `not_supported` (the IdP was not asked), `retrying` or `refused`. */
      readonly upstream: Exclude<UpstreamOutcome, 'revoked'>;
      /** One sentence for the person: signed out here, and why the IdP did not revoke. */
      readonly description: string;
    };

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

/** What the IdP did with one refresh token. */
interface Upstream {
  readonly upstream: 'revoked' | 'not_supported';
  readonly notAsked?: NotAsked;
  readonly error?: BrokerError;
  readonly seconds: number | null;
}

/**
 * Whether a new sign-in revokes the grant it replaced at the IdP, and if not, why. An IdP may keep
 * one grant per IdP session and end every token of a grant when one is revoked (oidc-provider
 * does both): revoking the old refresh token would then end the new sign-in. So with `auto` the
 * old grant is revoked only when the ID tokens show two sessions: their `sid`s differ, or (without
 * `sid`) their `auth_time`s do.
 *
 * @param setting - the provider's `revoke_replaced_grant`
 * @param replaced - the replaced grant (its `session` and `authTime`)
 * @param claims - the new sign-in's ID token claims, if any
 * @returns why it is kept, or null: revoke it
 * @example
 * ```ts
 * keepReplacedGrant('auto', { session: 's1' }, { sid: 's2' }); // null: revoke
 * keepReplacedGrant('auto', { session: 's1' }, { sid: 's1' }); // 'same identity provider session (sid)'
 * ```
 */
export function keepReplacedGrant(
  setting: boolean | 'auto',
  replaced: Pick<Grant, 'session' | 'authTime'>,
  claims: Readonly<Record<string, unknown>> | undefined
): string | null {
  if (setting === true) return null;
  if (setting === false) return 'revoke_replaced_grant is false';
  const sid = typeof claims?.sid === 'string' ? claims.sid : null;
  const authTime = typeof claims?.auth_time === 'number' ? claims.auth_time : null;
  const was = { sid: replaced.session ?? null, authTime: replaced.authTime ?? null };
  if (sid !== null && was.sid !== null) {
    return sid === was.sid ? 'same identity provider session (sid)' : null;
  }
  if (authTime !== null && was.authTime !== null) {
    return authTime === was.authTime ? 'same identity provider sign-in (auth_time)' : null;
  }
  return 'the ID tokens do not tell whether both sign-ins share one grant (no sid or auth_time); set revoke_replaced_grant true if the identity provider gives each sign-in its own';
}

/**
 * What the person is told when a sign-out did not end the grant at the IdP.
 *
 * @param result - how the grant ended
 * @returns the answer of the sign-out
 * @example
 * ```ts
 * signOutResult({ ended: true, upstream: 'not_supported', notAsked: 'no_revocation_endpoint' });
 * // { revoked: false, upstream: 'not_supported', description: 'Signed out here; the identity provider was not asked to revoke (no revocation endpoint): …' }
 * ```
 */
export function signOutResult(result: EndResult): SignOutResult {
  if (!result.ended || result.upstream === 'revoked' || result.notAsked === 'no_refresh_token') {
    // Nothing held, revoked, or nothing long-lived to revoke (the IdP issued no refresh token).
    return { revoked: true };
  }
  const here = 'Signed out here; ';
  switch (result.upstream) {
    case 'not_supported':
      return {
        revoked: false,
        upstream: result.upstream,
        description:
          `${here}the identity provider was not asked to revoke (no revocation endpoint): ` +
          'the sign-in stays valid there until it expires; end it in the identity provider, or ' +
          "configure the provider's revocation_endpoint."
      };
    case 'retrying':
      return {
        revoked: false,
        upstream: result.upstream,
        description: `${here}the identity provider could not be reached to revoke the sign-in; the broker will try again.`
      };
    case 'refused':
      return {
        revoked: false,
        upstream: result.upstream,
        description:
          `${here}the identity provider refused to revoke the sign-in` +
          `${result.error === undefined ? '' : ` (${result.error.message.replace(/\.$/, '')})`}; ` +
          'it may stay valid there until it expires.'
      };
  }
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
   * @returns whether the IdP revoked the sign-in, and what to tell the person when it did not
   * @throws `AuditUnavailable` when the sign-out cannot be recorded (nothing is changed)
   * @throws {@link BrokerError} 403 `forbidden` for a `hub` provider, whose login the hub holds
   */
  async signOut(target: RevocationTarget, client: string): Promise<SignOutResult> {
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
      upstream: result.ended ? result.upstream : null,
      ...(result.ended && result.notAsked !== undefined ? { notAsked: result.notAsked } : {})
    });
    return signOutResult(result);
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
   * Ends a provider's grant: takes it under its store lock (after any refresh in flight stored its
   * rotation), revokes its refresh token upstream and forgets it locally. Without `force` the IdP
   * is asked while the lock is held, and the grant is kept when it did not take the revocation.
   *
   * @param target - the provider
   * @param request - who asks, why, and whether to force
   * @returns what happened
   * @throws `StoreUnavailable` when the grant cannot be read or deleted
   */
  async end(target: RevocationTarget, request: RevocationRequest): Promise<EndResult> {
    const { tokens, events } = this.options;
    let asked: Upstream | undefined;
    const grant = request.force
      ? await tokens.takeGrant(target.id)
      : await tokens.takeGrant(target.id, async held => {
          asked = await this.revokeGrant(target, held.refreshToken);
          return asked.error === undefined;
        });
    // Nothing held: the sign-out is idempotent (every cached token is forgotten all the same).
    if (grant === undefined) return { ended: false, reason: 'not_signed_in' };
    const { upstream, notAsked, error, seconds } =
      asked ?? (await this.revokeGrant(target, grant.refreshToken));
    await events.emit({
      kind: 'grant.revoked',
      provider: target.id,
      client: request.client,
      by: request.by,
      reason: request.reason,
      scopes: grant.scopes,
      upstream: error === undefined ? upstream : 'failed',
      ...(error === undefined ? {} : { code: error.code }),
      seconds
    });
    if (error === undefined) {
      return { ended: true, upstream, ...(notAsked === undefined ? {} : { notAsked }) };
    }
    if (!request.force) return { ended: false, reason: 'upstream_failed', error };
    if (error instanceof UpstreamUnavailable && grant.refreshToken !== null) {
      await this.enqueue(target.id, grant.refreshToken, `${request.by}: ${request.reason}`);
      return { ended: true, upstream: 'retrying', error };
    }
    return { ended: true, upstream: 'refused', error };
  }

  /**
   * After a new sign-in stored its grant: revokes the grant it replaced at the IdP, so refresh
   * tokens do not pile up there. Best effort: never rejects, recorded as a `grant.revoked` of
   * `sign-in` (an IdP that cannot be reached is retried like a sign-out's revocation).
   *
   * Whether it is kept is {@link keepReplacedGrant}; a grant kept is recorded as `skipped`
   * with the reason. Nothing happens when the IdP handed back the same refresh token.
   *
   * @param target - the provider
   * @param replaced - the grant the sign-in replaced, as `TokenService.signedIn` handed it back
   * @param current - the new sign-in's tokens (its refresh token, its ID token's `sid`/`auth_time`)
   * @param client - the client label that started the sign-in
   * @example
   * ```ts
   * const replaced = await tokens.signedIn('demo', tokenSet, account, subject);
   * await revocations.replaced(provider, replaced, tokenSet, 'jupyterlab');
   * ```
   */
  async replaced(
    target: RevocationTarget,
    replaced: Grant | undefined,
    current: {
      readonly refreshToken: string | null;
      readonly claims?: Readonly<Record<string, unknown>> | undefined;
    },
    client: string
  ): Promise<void> {
    if (replaced === undefined || replaced.refreshToken === null) return;
    if (replaced.refreshToken === current.refreshToken) return;
    const reason = 'replaced by a new sign-in';
    const report = {
      kind: 'grant.revoked' as const,
      provider: target.id,
      client,
      by: 'sign-in' as const,
      scopes: replaced.scopes
    };
    try {
      const kept = keepReplacedGrant(
        target.config.revoke_replaced_grant ?? 'auto',
        replaced,
        current.claims
      );
      if (kept !== null) {
        await this.options.events.emit({
          ...report,
          reason: `${reason} (kept: ${kept})`,
          upstream: 'skipped',
          seconds: null
        });
        return;
      }
      const { upstream, error, seconds } = await this.revokeGrant(target, replaced.refreshToken);
      await this.options.events.emit({
        ...report,
        reason,
        upstream: error === undefined ? upstream : 'failed',
        ...(error === undefined ? {} : { code: error.code }),
        seconds
      });
      if (error instanceof UpstreamUnavailable) {
        await this.enqueue(target.id, replaced.refreshToken, `sign-in: ${reason}`);
      }
    } catch (err) {
      // The sign-in stands whatever happens here; the trail has what could be recorded.
      this.options.log.warn('replaced_grant_not_revoked', {
        provider: target.id,
        reason: (err as Error).message
      });
    }
  }

  /** Asks the IdP to revoke a refresh token; never rejects with the IdP's failure (it is returned). */
  private async revokeGrant(
    target: RevocationTarget,
    refreshToken: string | null
  ): Promise<Upstream> {
    if (refreshToken === null) {
      return { upstream: 'not_supported', notAsked: 'no_refresh_token', seconds: null };
    }
    const timed: Timed = { seconds: null };
    try {
      const upstream = await this.revokeUpstream(target, refreshToken, timed);
      return upstream === 'revoked'
        ? { upstream, seconds: timed.seconds }
        : { upstream, notAsked: 'no_revocation_endpoint', seconds: timed.seconds };
    } catch (err) {
      const error =
        err instanceof BrokerError ? err : new UpstreamError('Revocation failed.', { cause: err });
      return { upstream: 'not_supported', error, seconds: timed.seconds };
    }
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
    if (target.revoke === undefined) return 'not_supported';
    const elapsed = stopwatch();
    try {
      return (await target.revoke(refreshToken)) === 'revoked' ? 'revoked' : 'not_supported';
    } finally {
      timed.seconds = elapsed();
    }
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
