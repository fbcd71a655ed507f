/**
 * The broker's events: one closed list of what happened, emitted by the domain code (sign-in,
 * sign-out, token issue, upstream token calls, revocation, consents, egress calls). The audit trail, the log and
 * the metrics subscribe once, where the broker is wired (`context.ts`), and each turns an event into
 * its own form (`audit.ts` {@link auditInputOf}, `log.ts` `logEvent`, `metrics.ts` `Metrics.count`),
 * so a new flow cannot reach one of them and forget another.
 *
 * Invariants:
 * - no event carries token material: only provider ids, client labels, scopes, codes and counts;
 * - an event whose kind is {@link RECORDED_BEFORE_ANSWER} is in the audit trail before
 *   {@link BrokerEvents.emit} resolves, and `emit` rejects with `AuditUnavailable` (503
 *   `store_unavailable`) when it cannot be written: the caller then changes nothing or answers
 *   nothing; every other event is recorded as well as the trail allows and never fails its caller.
 */

/** How a sign-in was made: the browser's authorization code flow, or the device flow (RFC 8628). */
export type SignInMethod = 'browser' | 'device';

/** The grant an access token was obtained with, from the IdP or (`hub`) from JupyterHub. */
export type UpstreamGrant = 'refresh_token' | 'client_credentials' | 'token_exchange' | 'hub';

/** What became of the upstream side of a revocation (`not_signed_in`: there was nothing to end). */
export type UpstreamOutcome = 'revoked' | 'not_supported' | 'retrying' | 'refused';

/** Why a grant ended without a sign-out: the IdP refused its refresh token, or the hub login ended. */
export type GrantEndReason = 'invalid_grant' | 'hub_login_ended';

/** A consent decision, or its withdrawal. */
export type ConsentChange = 'allow' | 'allow_always' | 'deny' | 'withdrawn';

/** A sign-in finished: the grant is about to be stored. */
export interface LoginCompleted {
  readonly kind: 'login.completed';
  readonly provider: string;
  /** The client label that started the sign-in. */
  readonly client: string;
  readonly method: SignInMethod;
  /** Scopes granted. */
  readonly scopes: readonly string[];
  /** Whether the IdP issued a refresh token. */
  readonly refreshable: boolean;
  /** Duration of the authorization code exchange; null for the device flow. */
  readonly upstreamSeconds: number | null;
}

/** A sign-in failed (refused, expired, cancelled, or the IdP or store failed). */
export interface LoginFailed {
  readonly kind: 'login.failed';
  /** Null when the callback's state named no login. */
  readonly provider: string | null;
  readonly client: string;
  readonly method: SignInMethod;
  /** The error code (`invalid_request`, `upstream_unavailable`, …). */
  readonly code: string;
  /** The HTTP status of the error. */
  readonly status: number;
  /** What the user is told; for a 5xx the internal message, which goes to the log only. */
  readonly description: string;
  /** Duration of the authorization code exchange when one was made, else null. */
  readonly upstreamSeconds: number | null;
}

/** The user signed out: the grant and every cached token are forgotten. */
export interface SignedOut {
  readonly kind: 'logout';
  readonly provider: string;
  readonly client: string;
  /** What the IdP's revocation did; null when there was no grant. */
  readonly upstream: UpstreamOutcome | null;
  /** Why the IdP was not asked (`upstream` `not_supported`): no revocation endpoint, no refresh token. */
  readonly notAsked?: 'no_revocation_endpoint' | 'no_refresh_token';
}

/** An access token was handed out. */
export interface TokenIssued {
  readonly kind: 'token.issued';
  readonly provider: string;
  readonly client: string;
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Served from the cache, without an upstream call. */
  readonly cached: boolean;
}

/** A token request was refused (401 or 403: login, scope or consent). */
export interface TokenDenied {
  readonly kind: 'token.denied';
  readonly provider: string;
  readonly client: string;
  /** Scopes asked; null for the provider's default. */
  readonly scopes: readonly string[] | null;
  readonly code: string;
}

/** A token request failed for any other reason (upstream, store, bad request). */
export interface TokenFailed {
  readonly kind: 'token.failed';
  readonly provider: string;
  readonly client: string;
  readonly scopes: readonly string[] | null;
  readonly code: string;
}

/** A new access token came from upstream. */
export interface TokenFetched {
  readonly kind: 'token.fetched';
  readonly provider: string;
  readonly grant: UpstreamGrant;
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Whether the IdP rotated the refresh token (`refresh_token` only). */
  readonly rotated?: boolean;
  /**
   * Scopes the grant recorded that this token, asked with the grant's own scopes, lacks: the IdP
   * reduced the grant, whose record now holds only `scopes` (`refresh_token` only; absent when none).
   */
  readonly reduced?: readonly string[];
  /** Duration of the upstream call. */
  readonly seconds: number;
}

/** An upstream token call failed. */
export interface TokenFetchFailed {
  readonly kind: 'token.fetch_failed';
  readonly provider: string;
  readonly grant: UpstreamGrant;
  /** Scopes asked; null for the provider's default. */
  readonly scopes: readonly string[] | null;
  readonly code: string;
  /** The error's message (never token material). */
  readonly description: string;
  /** Seconds before the next upstream call (an outage's backoff). */
  readonly retryAfter?: number;
  /** Set when the failure ended the grant. */
  readonly grantEnded?: GrantEndReason;
  /** Duration of the upstream call. */
  readonly seconds: number;
}

/**
 * A grant was ended by a sign-out, an admin or a new sign-in that replaced it, upstream (RFC 7009)
 * as far as the IdP allowed.
 */
export interface GrantRevoked {
  readonly kind: 'grant.revoked';
  readonly provider: string;
  readonly client: string;
  readonly by: 'user' | 'admin' | 'sign-in';
  /** The admin's reason, `sign-out`, or `replaced by a new sign-in…`. */
  readonly reason: string;
  /** Scopes of the grant. */
  readonly scopes: readonly string[];
  /**
   * `revoked`, `not_supported` (no refresh token or no revocation endpoint), `failed`, or
   * `skipped` (a replaced grant kept on purpose: the reason says why).
   */
  readonly upstream: 'revoked' | 'not_supported' | 'failed' | 'skipped';
  /** The error code when the IdP's revocation failed. */
  readonly code?: string;
  /** Duration of the revocation call; null when none was made. */
  readonly seconds: number | null;
}

/** A queued revocation was tried again. */
export interface RevocationRetried {
  readonly kind: 'revocation.retried';
  readonly provider: string;
  /** Attempts so far, this one included (the first was the sign-out's or the admin's). */
  readonly attempts: number;
  /** Why it was revoked (`user: sign-out`, `admin: …`). */
  readonly reason: string;
  /** The error code when it failed again. */
  readonly code?: string;
  /** True when it is dropped: refused outright, or out of attempts. */
  readonly gaveUp: boolean;
  /** Duration of the revocation call; null when none was made. */
  readonly seconds: number | null;
}

/** The retry queue was full: its oldest revocation was dropped unrevoked. */
export interface RevocationDropped {
  readonly kind: 'revocation.dropped';
  readonly provider: string;
}

/** An admin revocation (`POST /api/v1/admin/revoke`) finished. */
export interface AdminRevoked {
  readonly kind: 'admin.revoked';
  /** Null for every provider. */
  readonly provider: string | null;
  readonly client: string;
  readonly reason: string;
  readonly force: boolean;
  readonly revoked: number;
  readonly failed: number;
}

/** A call was refused for the caller's role: admin revocation, consent decisions, hub sign-out. */
export interface AccessDenied {
  readonly kind: 'access.denied';
  readonly provider: string | null;
  readonly client: string;
  readonly code: 'forbidden';
  /** What was refused, for the trail. */
  readonly reason: string;
}

/** The user recorded or withdrew a plugin's consent. */
export interface ConsentDecided {
  readonly kind: 'consent.decided';
  readonly provider: string;
  /** Who decided: always `jupyterlab`. */
  readonly client: string;
  /** The plugin's client label the decision is about. */
  readonly plugin: string;
  readonly decision: ConsentChange;
}

/**
 * An egress call ended (`routes/egress.ts`): the upstream answered and its body passed (`code`
 * null, whatever the upstream's status), the broker refused it (`refused`), or it failed.
 */
export interface EgressCalled {
  readonly kind: 'egress';
  /** Null when the request named no configured provider. */
  readonly provider: string | null;
  readonly client: string;
  readonly method: string;
  /** The target's origin (`https://host[:port]`); empty when the target was not understood. */
  readonly origin: string;
  /** The target's path, never its query; empty when the target was not understood. */
  readonly path: string;
  /** The status answered: the upstream's, or the broker's own. */
  readonly status: number;
  /** Request body bytes sent upstream. */
  readonly bytesIn: number;
  /** Response body bytes passed back. */
  readonly bytesOut: number;
  readonly durationMs: number;
  /**
   * Null when it went through; else the refusal's or failure's code (an `ErrorCode`, or
   * `client_closed` when the caller went away before the answer ended).
   */
  readonly code: string | null;
  /** Whether the broker refused the call (401/403: key, consent, allowlist, role). */
  readonly refused: boolean;
  /** What went wrong, for the trail (never token material), e.g. `response cut at 1048576 bytes`. */
  readonly reason?: string;
}

/** Every event the broker emits. */
export type BrokerEvent =
  | LoginCompleted
  | LoginFailed
  | SignedOut
  | TokenIssued
  | TokenDenied
  | TokenFailed
  | TokenFetched
  | TokenFetchFailed
  | GrantRevoked
  | RevocationRetried
  | RevocationDropped
  | AdminRevoked
  | AccessDenied
  | ConsentDecided
  | EgressCalled;

/** The kinds of event. */
export type BrokerEventKind = BrokerEvent['kind'];

/**
 * Kinds whose audit record is written before the call answers (fail-closed): a token handed out,
 * a sign-in stored, a sign-out, an admin revocation, a refusal for the caller's role, a consent.
 * The others are recorded as well as the trail allows: a refusal or failure that hands nothing
 * out, and what happens in the background (refreshes, revocations and their retries).
 */
export const RECORDED_BEFORE_ANSWER: Readonly<Record<BrokerEventKind, boolean>> = {
  'login.completed': true,
  'login.failed': false,
  logout: true,
  'token.issued': true,
  'token.denied': false,
  'token.failed': false,
  'token.fetched': false,
  'token.fetch_failed': false,
  'grant.revoked': false,
  'revocation.retried': false,
  'revocation.dropped': false,
  'admin.revoked': true,
  'access.denied': true,
  'consent.decided': true,
  // Ends with the answer, already streamed; the trail was checked before the token was got.
  egress: false
};

/** How an event ended, as the audit trail and the metrics label it. */
export type EventOutcome = 'ok' | 'error' | 'denied';

/**
 * How an event ended.
 *
 * @param event - any event
 * @returns `ok`, `error` or `denied`
 * @example
 * ```ts
 * outcomeOf({ kind: 'revocation.dropped', provider: 'demo' }); // 'error'
 * ```
 */
export function outcomeOf(event: BrokerEvent): EventOutcome {
  switch (event.kind) {
    case 'token.denied':
    case 'access.denied':
      return 'denied';
    case 'login.failed':
    case 'token.failed':
    case 'token.fetch_failed':
    case 'revocation.dropped':
      return 'error';
    case 'grant.revoked':
      return event.upstream === 'failed' ? 'error' : 'ok';
    case 'revocation.retried':
      return event.code === undefined ? 'ok' : 'error';
    case 'admin.revoked':
      return event.failed === 0 ? 'ok' : 'error';
    case 'egress':
      return event.code === null ? 'ok' : event.refused ? 'denied' : 'error';
    default:
      return 'ok';
  }
}

/** What the domain code receives to report what happened. */
export interface BrokerEvents {
  /**
   * Checks, before a state change, that its event will be recordable.
   *
   * @throws `AuditUnavailable` when the audit trail cannot be written
   */
  assertRecordable(): Promise<void>;
  /**
   * Reports an event to the audit trail, the log and the metrics.
   *
   * @param event - what happened
   * @returns once a {@link RECORDED_BEFORE_ANSWER} event is in the trail; at once for the others
   * @throws `AuditUnavailable` when a {@link RECORDED_BEFORE_ANSWER} event cannot be recorded (it is
   *   then neither logged nor counted as done)
   */
  emit(event: BrokerEvent): Promise<void>;
}

/** The subscriber that must record: the audit trail. */
export interface EventRecorder {
  /** @throws when the trail cannot be written */
  assertWritable(): Promise<void>;
  /** @throws when the event cannot be written */
  record(event: BrokerEvent): Promise<void>;
}

/** A subscriber that only observes (the log, the metrics); it must not throw. */
export type EventObserver = (event: BrokerEvent) => void;

/**
 * The emitter, with its subscribers: the recorder, awaited for the kinds that must be recorded
 * first, and the observers, called once the event stands.
 *
 * @param recorder - the audit trail
 * @param observers - the log and the metrics
 * @returns the emitter
 * @example
 * ```ts
 * const events = brokerEvents(auditRecorder(audit), [eventLogger(log), event => metrics.count(event)]);
 * await events.emit({ kind: 'logout', provider: 'demo', client: 'jupyterlab', upstream: 'revoked' });
 * ```
 */
export function brokerEvents(
  recorder: EventRecorder,
  observers: readonly EventObserver[]
): BrokerEvents {
  const observe = (event: BrokerEvent): void => {
    for (const observer of observers) observer(event);
  };
  return {
    assertRecordable: () => recorder.assertWritable(),
    async emit(event) {
      if (RECORDED_BEFORE_ANSWER[event.kind]) {
        await recorder.record(event);
        observe(event);
        return;
      }
      observe(event);
      // The recorder reports its own write failures (the audit file logs them once).
      recorder.record(event).catch(() => undefined);
    }
  };
}

/** An emitter that reports nowhere (unit tests of domain code that do not look at events). */
export const NO_EVENTS: BrokerEvents = {
  assertRecordable: async () => undefined,
  emit: async () => undefined
};

/**
 * A stopwatch for the duration of an upstream call.
 *
 * @param now - milliseconds clock (a monotonic one by default)
 * @returns a function giving the seconds since the stopwatch was made
 * @example
 * ```ts
 * const elapsed = stopwatch();
 * await provider.refresh(refreshToken, undefined, granted);
 * const seconds = elapsed();
 * ```
 */
export function stopwatch(now: () => number = () => performance.now()): () => number {
  const started = now();
  return () => (now() - started) / 1000;
}
