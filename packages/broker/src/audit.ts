/**
 * The audit trail: every issue, refresh, login, logout, revocation, denial, consent decision and
 * egress call, as
 * JSON lines in a file (rotated by size: `path` → `path.1` → … → `path.{keep}`) and in an in-memory
 * ring that `GET /api/v1/events` reads, newest first.
 *
 * Invariants:
 * - an event has a closed set of fields, all labels; no field ever carries token material — a field
 *   whose value looks like a token (a JWT, a long random string) is refused and written as
 *   `[refused]`, so a bug elsewhere cannot leak a token into the trail;
 * - a state-changing call that cannot be recorded does not happen: the domain code checks
 *   {@link AuditTrail.assertWritable} before acting and its event is recorded before the call
 *   answers (the kinds of `events.ts` `RECORDED_BEFORE_ANSWER`); both throw {@link AuditUnavailable}
 *   (503 `store_unavailable`) when the file cannot be written; `record` resolves only once the
 *   event's line is written to the file (see {@link AuditFile}: one open descriptor, group commit,
 *   rotation between writes), and `assertWritable` reads the sink's state — no system call while the
 *   file is open and writing;
 * - the trail's record of each broker event is {@link auditInputOf}, subscribed once in `context.ts`.
 */
import { AuditFile } from './auditFile.js';
import { type Clock } from './clock.js';
import { BrokerError } from './errors.js';
import { type BrokerEvent, type EventRecorder, outcomeOf } from './events.js';
import type { Logger } from './log.js';

/** What happened. */
export type AuditType =
  'issue' | 'refresh' | 'login' | 'logout' | 'revoke' | 'denial' | 'consent' | 'egress';

/** What the trail records of an egress call besides the common fields. */
export interface EgressRecord {
  readonly method: string;
  /** `https://host[:port]`, or empty. */
  readonly origin: string;
  /** The target's path, never its query. */
  readonly path: string;
  readonly status: number;
  readonly bytes_in: number;
  readonly bytes_out: number;
  readonly duration_ms: number;
}

/** How it ended. */
export type AuditOutcome = 'ok' | 'error' | 'denied';

/** One event as the caller describes it; `time` is added by the trail. An egress call's fields too. */
export interface AuditInput extends Partial<EgressRecord> {
  readonly type: AuditType;
  readonly provider: string | null;
  readonly client: string | null;
  readonly scopes?: readonly string[] | null;
  readonly outcome: AuditOutcome;
  /** The error code of a failure or denial (`scope_not_allowed`, `upstream_unavailable`, …). */
  readonly code?: string;
  /** A short explanation: the admin's reason, the stage of a login, a consent decision. */
  readonly reason?: string;
}

/** One recorded event, as `GET /api/v1/events` returns it (an egress call's fields flat in it). */
export interface AuditEvent extends Partial<EgressRecord> {
  /** ISO 8601 time of the broker's clock. */
  readonly time: string;
  readonly type: AuditType;
  readonly provider: string | null;
  readonly client: string | null;
  readonly scopes: readonly string[] | null;
  readonly outcome: AuditOutcome;
  readonly code?: string;
  readonly reason?: string;
}

/** Where and how much of the trail is kept on disk. */
export interface AuditFileOptions {
  /** The JSON-lines file, or null to keep the trail in memory only. */
  readonly path: string | null;
  /** Rotate when the file would grow over this many bytes. */
  readonly maxBytes: number;
  /** Rotated files to keep (`path.1` … `path.{keep}`). */
  readonly keep: number;
}

/** What an {@link AuditTrail} needs. */
export interface AuditOptions extends AuditFileOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Events kept in memory for `GET /api/v1/events`. */
  readonly ringSize?: number;
}

/** 503: the audit file cannot be written, so the call is refused rather than left unrecorded. */
export class AuditUnavailable extends BrokerError {
  /** @param options - the file system error, for the log */
  constructor(options: { cause?: unknown } = {}) {
    super('store_unavailable', 'The audit trail cannot be written; nothing was changed.', {
      retryAfter: 5,
      ...options
    });
  }
}

/** Written in place of a field the guard refused. */
export const REFUSED = '[refused]';

/** A JWT (three base64url parts, the first a JSON object). */
const JWT = /eyJ[\w-]{4,}\.[\w-]*\.[\w-]*/;
/** A run of token alphabet long enough to be a secret. */
const LONG_RUN = /[A-Za-z0-9_~+/=.-]{32,}/g;

/**
 * Whether a string holds something that looks like token material: a JWT anywhere in it, or a run
 * of at least 32 token characters mixing upper case, lower case and digits (what random base64 and
 * hex-with-case secrets look like, and what plugin ids and scopes do not).
 *
 * @param value - any string
 * @returns true when the string must not be written
 * @example
 * ```ts
 * looksLikeToken('eyJhbGciOi.eyJzdWIiOi.sig'); // true
 * looksLikeToken('@my-org/archive-browser:plugin'); // false
 * ```
 */
export function looksLikeToken(value: string): boolean {
  if (JWT.test(value)) return true;
  for (const run of value.match(LONG_RUN) ?? []) {
    if (/[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run)) return true;
  }
  return false;
}

/** An egress call's fields as written (none for other events); strings pass `label`'s guard. */
function egressFields(
  input: AuditInput,
  label: (name: string, value: string) => string | null | undefined
): Partial<EgressRecord> {
  if (input.method === undefined) return {};
  const { method, origin = '', path = '', status = 0 } = input;
  const { bytes_in = 0, bytes_out = 0, duration_ms = 0 } = input;
  return {
    method: label('method', method) as string,
    origin: label('origin', origin) as string,
    path: label('path', path) as string,
    status,
    bytes_in,
    bytes_out,
    duration_ms
  };
}

/**
 * The event as written: only the known fields, each refused when it looks like a token.
 *
 * @param input - the caller's description
 * @param time - ISO time
 * @returns the event and the names of refused fields
 */
export function sanitizeEvent(
  input: AuditInput,
  time: string
): { event: AuditEvent; refused: string[] } {
  const refused: string[] = [];
  const label = (name: string, value: string | null | undefined): string | null | undefined => {
    if (typeof value !== 'string') return value;
    if (!looksLikeToken(value)) return value.slice(0, 512);
    refused.push(name);
    return REFUSED;
  };
  const scopes =
    input.scopes == null ? null : input.scopes.map(s => label('scopes', s) as string).slice(0, 64);
  const event: AuditEvent = {
    time,
    type: input.type,
    provider: label('provider', input.provider) ?? null,
    client: label('client', input.client) ?? null,
    scopes,
    outcome: input.outcome,
    ...(input.code === undefined ? {} : { code: label('code', input.code) as string }),
    ...(input.reason === undefined ? {} : { reason: label('reason', input.reason) as string }),
    ...egressFields(input, label)
  };
  return { event, refused };
}

/**
 * The broker's audit trail.
 *
 * @example
 * ```ts
 * const audit = new AuditTrail({ path: '/run/tb/audit.jsonl', maxBytes: 1 << 20, keep: 3, clock: Date.now, log });
 * await audit.record({ type: 'logout', provider: 'demo', client: 'jupyterlab', outcome: 'ok' });
 * audit.recent({ limit: 10 });
 * ```
 */
export class AuditTrail {
  private readonly ring: AuditEvent[] = [];
  private readonly ringSize: number;
  /** The file sink, or null when the trail is memory-only. */
  private readonly file: AuditFile | null;

  constructor(private readonly options: AuditOptions) {
    this.ringSize = options.ringSize ?? 1000;
    this.file =
      options.path === null
        ? null
        : new AuditFile({
            path: options.path,
            maxBytes: options.maxBytes,
            keep: options.keep,
            log: options.log
          });
  }

  /** The file, or null when the trail is memory-only. */
  get path(): string | null {
    return this.options.path;
  }

  /**
   * Checks, before a state-changing call acts, that its event can be written.
   *
   * @throws {@link AuditUnavailable} when the sink has failed and the file still cannot be opened
   */
  async assertWritable(): Promise<void> {
    if (this.file === null || this.file.healthy) return;
    try {
      await this.file.ready();
    } catch (err) {
      throw new AuditUnavailable({ cause: err });
    }
  }

  /**
   * Records an event: the ring, then the file.
   *
   * @param input - what happened
   * @returns the event as recorded
   * @throws {@link AuditUnavailable} when the file cannot be written (the event stays in the ring)
   */
  async record(input: AuditInput): Promise<AuditEvent> {
    const { event, refused } = sanitizeEvent(input, new Date(this.options.clock()).toISOString());
    if (refused.length > 0) {
      this.options.log.error('audit_field_refused', { type: input.type, fields: refused });
    }
    this.ring.push(event);
    if (this.ring.length > this.ringSize) this.ring.shift();
    if (this.file !== null) {
      try {
        await this.file.append(JSON.stringify(event) + '\n');
      } catch (err) {
        // Logged by the sink, once per failure.
        throw new AuditUnavailable({ cause: err });
      }
    }
    return event;
  }

  /** Waits for pending writes, then closes the file (the trail reopens it if recorded to again). */
  async close(): Promise<void> {
    await this.file?.close();
  }

  /**
   * Recent events, newest first.
   *
   * @param filter - at most `limit` events, only of `provider` when given
   * @returns the events
   */
  recent(filter: { limit: number; provider?: string }): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (let i = this.ring.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const event = this.ring[i];
      if (filter.provider === undefined || event.provider === filter.provider) out.push(event);
    }
    return out;
  }
}

/** What the trail says of a fetched or failed upstream token: the grant, when not a refresh. */
function grantReason(grant: string): { reason?: string } {
  return grant === 'refresh_token' ? {} : { reason: grant };
}

/** What the trail says of a sign-out: plainly when the IdP did not revoke the sign-in. */
function signedOutReason(event: Extract<BrokerEvent, { kind: 'logout' }>): string {
  if (event.upstream === null) return 'was not signed in';
  if (event.upstream === 'not_supported' && event.notAsked === 'no_revocation_endpoint') {
    return 'signed out here; not revoked at the identity provider (no revocation endpoint)';
  }
  if (event.upstream === 'retrying') {
    return 'signed out here; not yet revoked at the identity provider (unreachable, retrying)';
  }
  if (event.upstream === 'refused') {
    return 'signed out here; the identity provider refused the revocation';
  }
  return `signed out (upstream: ${event.upstream})`;
}

/**
 * The trail's record of a broker event.
 *
 * @param event - what happened
 * @returns the record, without time
 * @example
 * ```ts
 * auditInputOf({ kind: 'logout', provider: 'demo', client: 'jupyterlab', upstream: null });
 * // { type: 'logout', provider: 'demo', client: 'jupyterlab', outcome: 'ok', reason: 'was not signed in' }
 * ```
 */
export function auditInputOf(event: BrokerEvent): AuditInput {
  const outcome = outcomeOf(event);
  switch (event.kind) {
    case 'login.completed':
      return {
        type: 'login',
        provider: event.provider,
        client: event.client,
        scopes: event.scopes,
        outcome,
        reason: event.method === 'device' ? 'device flow completed' : 'completed'
      };
    case 'login.failed':
      return {
        type: 'login',
        provider: event.provider,
        client: event.client,
        outcome,
        code: event.code,
        reason: event.method === 'device' ? 'device flow failed' : 'failed'
      };
    case 'logout':
      return {
        type: 'logout',
        provider: event.provider,
        client: event.client,
        outcome,
        reason: signedOutReason(event)
      };
    case 'token.issued':
      return {
        type: 'issue',
        provider: event.provider,
        client: event.client,
        scopes: event.scopes,
        outcome
      };
    case 'token.denied':
    case 'token.failed':
      return {
        type: event.kind === 'token.denied' ? 'denial' : 'issue',
        provider: event.provider,
        client: event.client,
        scopes: event.scopes,
        outcome,
        code: event.code
      };
    case 'token.fetched':
      return {
        type: 'refresh',
        provider: event.provider,
        client: null,
        scopes: event.scopes,
        outcome,
        ...(event.reduced === undefined
          ? grantReason(event.grant)
          : {
              reason: `the identity provider reduced the grant: ${event.reduced.join(' ')} no longer granted`
            })
      };
    case 'token.fetch_failed':
      return {
        type: 'refresh',
        provider: event.provider,
        client: null,
        scopes: event.scopes,
        outcome,
        code: event.code,
        ...grantReason(event.grant)
      };
    case 'grant.revoked': {
      const code =
        event.upstream === 'failed'
          ? event.code
          : event.upstream === 'not_supported' || event.upstream === 'skipped'
            ? event.upstream
            : undefined;
      return {
        type: 'revoke',
        provider: event.provider,
        client: event.client,
        scopes: event.scopes,
        outcome,
        ...(code === undefined ? {} : { code }),
        reason: `${event.by}: ${event.reason}`
      };
    }
    case 'revocation.retried': {
      const retry = `retry ${event.attempts - 1}: ${event.reason}`;
      return {
        type: 'revoke',
        provider: event.provider,
        client: null,
        outcome,
        ...(event.code === undefined ? {} : { code: event.code }),
        reason: event.gaveUp ? `gave up: ${retry}` : retry
      };
    }
    case 'revocation.dropped':
      return {
        type: 'revoke',
        provider: event.provider,
        client: null,
        outcome,
        code: 'upstream_unavailable',
        reason: 'retry queue full: the oldest pending revocation was dropped'
      };
    case 'admin.revoked':
      return {
        type: 'revoke',
        provider: event.provider,
        client: event.client,
        outcome,
        reason: `admin: ${event.reason}${event.force ? ' (force)' : ''}: ${event.revoked} revoked, ${event.failed} failed`
      };
    case 'access.denied':
      return {
        type: 'denial',
        provider: event.provider,
        client: event.client,
        outcome,
        code: event.code,
        reason: event.reason
      };
    case 'consent.decided':
      return {
        type: 'consent',
        provider: event.provider,
        client: event.client,
        outcome,
        reason: `${event.decision} for ${event.plugin}`
      };
    case 'egress':
      return {
        type: 'egress',
        provider: event.provider,
        client: event.client,
        outcome,
        ...(event.code === null ? {} : { code: event.code }),
        ...(event.reason === undefined ? {} : { reason: event.reason }),
        method: event.method,
        origin: event.origin,
        path: event.path,
        status: event.status,
        bytes_in: event.bytesIn,
        bytes_out: event.bytesOut,
        duration_ms: event.durationMs
      };
  }
}

/**
 * The trail as the events' recorder: every broker event, in its {@link auditInputOf} form.
 *
 * @param trail - the audit trail
 * @returns the recorder `brokerEvents` awaits
 */
export function auditRecorder(trail: AuditTrail): EventRecorder {
  return {
    assertWritable: () => trail.assertWritable(),
    record: async event => {
      await trail.record(auditInputOf(event));
    }
  };
}

/** The `audit` section of the config file. */
export interface AuditConfig {
  /** Absolute path of the JSON-lines file; null keeps the trail in memory only. */
  readonly path: string | null;
  /** Rotate the file when it would grow over this many bytes. */
  readonly max_bytes: number;
  /** Rotated files to keep (`path.1` … `path.{keep}`). */
  readonly keep: number;
}

/** Defaults of the `audit` section. */
export const AUDIT_DEFAULTS: AuditConfig = { path: null, max_bytes: 1024 * 1024, keep: 3 };

/**
 * Checks the `audit` section and fills in its defaults.
 *
 * @param raw - the section as parsed (undefined when absent)
 * @param fail - reports a bad key (`audit.path`) with the problem; never returns
 * @returns the section
 */
export function validateAuditConfig(
  raw: unknown,
  fail: (key: string, problem: string) => never
): AuditConfig {
  if (raw === undefined || raw === null) return AUDIT_DEFAULTS;
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('audit', 'must be an object');
  const section = raw as Record<string, unknown>;
  for (const key of Object.keys(section)) {
    if (!(key in AUDIT_DEFAULTS)) fail(`audit.${key}`, 'is not a known option');
  }
  const path = section.path ?? null;
  if (path !== null && (typeof path !== 'string' || !path.startsWith('/') || path.includes('\0'))) {
    fail('audit.path', 'must be an absolute path or null');
  }
  const int = (key: 'max_bytes' | 'keep', min: number, max: number): number => {
    const v = section[key] ?? AUDIT_DEFAULTS[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      fail(`audit.${key}`, `must be an integer from ${min} to ${max}`);
    }
    return v as number;
  };
  return {
    path: path as string | null,
    max_bytes: int('max_bytes', 1024, 1024 * 1024 * 1024),
    keep: int('keep', 1, 100)
  };
}
