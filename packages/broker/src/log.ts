/**
 * Structured logging: one JSON object per line on stderr (stdout carries only the ready line).
 *
 * The redaction guard is a second line of defence: call sites never pass token material, and if one
 * ever does, fields whose name looks secret are replaced, and inside every string value the token
 * material is cut out wherever it sits: a whole value that is a token, a JWT or a long opaque run
 * inside a sentence, `Bearer …`, `code=…` in a query or form, `"refresh_token":"…"` in quoted
 * JSON. A filesystem path is not a token: a long socket path stays readable.
 *
 * The broker's events (`events.ts`) reach the log through {@link eventLogger}, subscribed once in
 * `context.ts`; other lines (start-up, request failures, a provider's discovery) are written directly.
 */
import type { BrokerEvent, EventObserver } from './events.js';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Extra fields of a log line. Values must be plain JSON. */
export type LogFields = Record<string, unknown>;

/** Where finished lines go; the default writes to stderr. Tests pass their own to capture output. */
export type LogSink = (line: string) => void;

/** The logger every module receives. */
export interface Logger {
  /** Logs an event at `debug`. */
  debug(event: string, fields?: LogFields): void;
  /** Logs an event at `info`. */
  info(event: string, fields?: LogFields): void;
  /** Logs an event at `warn`. */
  warn(event: string, fields?: LogFields): void;
  /** Logs an event at `error`. */
  error(event: string, fields?: LogFields): void;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names that never reach a log line with their value. */
const SECRET_NAME =
  /(token|secret|password|verifier|code|key|authorization|cookie|assertion|nonce|state)/i;
/** Field names that look secret but carry only safe metadata. */
const SAFE_NAMES = new Set(['error_code', 'code_name', 'status_code', 'event', 'error']);
/** Names of values that are secret wherever they appear as `name=value` or `"name": "value"`. */
const SECRET_PARAM =
  'access_token|refresh_token|id_token|subject_token|device_code|code_verifier|code|client_secret|client_assertion|assertion|password|state|nonce|token';
/** `name=value` in a query string, a form body or a sentence. */
const PARAM_VALUE = new RegExp(`\\b(${SECRET_PARAM})=([^&\\s"',;]+)`, 'gi');
/** `"name": "value"` in JSON quoted inside a string (escaped quotes too). */
const JSON_VALUE = new RegExp(
  `(\\\\?"(?:${SECRET_PARAM})\\\\?"\\s*:\\s*\\\\?")((?:[^"\\\\]|\\\\[^"])*)`,
  'gi'
);
/** An HTTP credential: `Bearer xyz`, `Basic xyz`. */
const CREDENTIAL = /\b(Bearer|Basic|DPoP)\s+[^\s"',;]+/gi;
/** A JWT anywhere. */
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g;
/** A long opaque run (a refresh token, a code, a key): 32+ characters without a path separator. */
const OPAQUE = /(^|[^\w~+=/-])([A-Za-z0-9_~+=-]{32,})(?![\w~+=-])/g;
/** A value that is all one token (base64 with `/` included). */
const WHOLE_TOKEN = /^[A-Za-z0-9_~.+/=-]{40,}$/;

/**
 * Whether a long run of token characters is random rather than a word: it has a digit, or both
 * cases (`authorization_response_iss_parameter_supported` is a name, not a secret).
 */
function looksRandom(run: string): boolean {
  return /\d/.test(run) || (/[a-z]/.test(run) && /[A-Z]/.test(run));
}
/** A filesystem path: absolute, home-relative or a Windows drive, no spaces. */
const PATH = /^(\/|~\/|[A-Za-z]:\\)[^\s]*$/;

/**
 * A string with every piece of token material in it replaced by `[redacted]`.
 *
 * @param text - any string value of a log line
 * @returns the text, redacted
 * @example
 * ```ts
 * redactText('GET /cb?code=abc123&state=xyz'); // 'GET /cb?code=[redacted]&state=[redacted]'
 * ```
 */
export function redactText(text: string): string {
  if (PATH.test(text)) {
    // A path keeps its segments (a long runtime directory name is not a token), but a query or a
    // JWT in it is still cut out.
    return text.replace(PARAM_VALUE, '$1=[redacted]').replace(JWT, '[redacted]');
  }
  if (WHOLE_TOKEN.test(text) && looksRandom(text)) return '[redacted]';
  return text
    .replace(JWT, '[redacted]')
    .replace(CREDENTIAL, '$1 [redacted]')
    .replace(JSON_VALUE, '$1[redacted]')
    .replace(PARAM_VALUE, '$1=[redacted]')
    .replace(OPAQUE, (all, before: string, run: string) =>
      looksRandom(run) ? `${before}[redacted]` : all
    );
}

/**
 * Replaces secret-looking fields and the token material inside every string.
 *
 * @param value - any JSON value
 * @returns a copy safe to write
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 5) return '[deep]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(v => redact(v, depth + 1));
  if (value instanceof Error) {
    return {
      name: value.name,
      message: redact(value.message, depth + 1),
      ...(value.stack === undefined ? {} : { stack: redact(value.stack, depth + 1) })
    };
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_NAME.test(k) && !SAFE_NAMES.has(k) ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * Makes a logger.
 *
 * @param options - minimum level, sink and clock
 * @returns the logger
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.info('listening', { socket: '/run/x/broker.sock' });
 * ```
 */
export function createLogger(
  options: { level?: LogLevel; sink?: LogSink; now?: () => number } = {}
): Logger {
  const min = LEVELS[options.level ?? 'info'];
  const sink: LogSink = options.sink ?? (line => process.stderr.write(line + '\n'));
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVELS[level] < min) return;
    const safe = fields === undefined ? {} : (redact(fields) as LogFields);
    sink(JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...safe }));
  };
  return {
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields)
  };
}

/**
 * One event as a log line: its level, name and fields. Codes go in `error` (a field named `code`
 * would be redacted), times as `expires_at`.
 *
 * @param event - what happened
 * @returns the line, before redaction
 */
export function logLineOf(event: BrokerEvent): {
  level: LogLevel;
  event: string;
  fields: LogFields;
} {
  switch (event.kind) {
    case 'login.completed':
      return {
        level: 'info',
        event: 'login_completed',
        fields: {
          provider: event.provider,
          client: event.client,
          method: event.method,
          scopes: event.scopes,
          refreshable: event.refreshable
        }
      };
    case 'login.failed':
      return {
        level: event.status >= 500 ? 'error' : 'info',
        event: 'login_failed',
        fields: {
          provider: event.provider,
          client: event.client,
          method: event.method,
          status: event.status,
          error: event.code,
          reason: event.description
        }
      };
    case 'logout':
      return {
        level: 'info',
        event: 'signed_out',
        fields: { provider: event.provider, client: event.client, upstream: event.upstream }
      };
    case 'token.issued':
      // Debug, not info: the audit trail already records every issue, and a line per cache hit
      // was the largest cost of the token route (and of the Jupyter log the lines go to).
      return {
        level: 'debug',
        event: 'token_issued',
        fields: {
          provider: event.provider,
          client: event.client,
          scopes: event.scopes,
          expires_at: event.expiresAt,
          cached: event.cached
        }
      };
    case 'token.denied':
    case 'token.failed':
      return {
        level: 'info',
        event: event.kind === 'token.denied' ? 'token_denied' : 'token_failed',
        fields: {
          provider: event.provider,
          client: event.client,
          scopes: event.scopes,
          reason: event.code
        }
      };
    case 'token.fetched':
      if (event.reduced !== undefined) {
        return {
          level: 'warn',
          event: 'grant_scopes_reduced',
          fields: { provider: event.provider, scopes: event.scopes, lost: event.reduced }
        };
      }
      return event.grant === 'refresh_token'
        ? {
            level: 'info',
            event: 'token_refreshed',
            fields: {
              provider: event.provider,
              scopes: event.scopes,
              expires_at: event.expiresAt,
              rotated: event.rotated ?? false
            }
          }
        : {
            level: 'info',
            event: 'token_fetched',
            fields: {
              provider: event.provider,
              grant: event.grant,
              scopes: event.scopes,
              expires_at: event.expiresAt
            }
          };
    case 'token.fetch_failed':
      if (event.grantEnded !== undefined) {
        return {
          level: 'info',
          event: 'grant_ended',
          fields: { provider: event.provider, grant: event.grant, reason: event.grantEnded }
        };
      }
      return {
        level: event.code === 'upstream_unavailable' ? 'warn' : 'info',
        event:
          event.code === 'upstream_unavailable' ? 'upstream_unavailable' : 'token_fetch_failed',
        fields: {
          provider: event.provider,
          grant: event.grant,
          error: event.code,
          reason: event.description,
          ...(event.retryAfter === undefined ? {} : { retry_after: event.retryAfter })
        }
      };
    case 'grant.revoked':
      return {
        level: event.upstream === 'failed' ? 'warn' : 'info',
        event: 'grant_revoked',
        fields: {
          provider: event.provider,
          client: event.client,
          by: event.by,
          upstream: event.upstream,
          ...(event.code === undefined ? {} : { error: event.code })
        }
      };
    case 'revocation.retried':
      return {
        level: event.gaveUp ? 'warn' : 'info',
        event: event.gaveUp ? 'revocation_given_up' : 'revocation_retried',
        fields: {
          provider: event.provider,
          attempts: event.attempts,
          ...(event.code === undefined ? {} : { error: event.code })
        }
      };
    case 'revocation.dropped':
      return { level: 'warn', event: 'revocation_dropped', fields: { provider: event.provider } };
    case 'admin.revoked':
      return {
        level: 'info',
        event: 'admin_revoked',
        fields: {
          provider: event.provider,
          client: event.client,
          force: event.force,
          revoked: event.revoked,
          failed: event.failed
        }
      };
    case 'access.denied':
      return {
        level: 'info',
        event: 'access_denied',
        fields: {
          provider: event.provider,
          client: event.client,
          error: event.code,
          reason: event.reason
        }
      };
    case 'consent.decided':
      return {
        level: 'info',
        event: 'consent_decided',
        fields: {
          provider: event.provider,
          client: event.client,
          plugin: event.plugin,
          decision: event.decision
        }
      };
    case 'egress':
      return {
        level: event.code === null || event.refused ? 'info' : 'warn',
        event: 'egress',
        fields: {
          provider: event.provider,
          client: event.client,
          method: event.method,
          origin: event.origin,
          path: event.path,
          status: event.status,
          bytes_in: event.bytesIn,
          bytes_out: event.bytesOut,
          duration_ms: event.durationMs,
          ...(event.code === null ? {} : { error: event.code }),
          ...(event.reason === undefined ? {} : { reason: event.reason })
        }
      };
  }
}

/**
 * The log as a subscriber of the broker's events. It also says when a provider's backoff ended:
 * the failed upstream calls that started it were logged (`upstream_unavailable` with `retry_after`),
 * the refusals meanwhile only at debug (`middleware.ts`), so the first fetch that succeeds after
 * them writes one `backoff_ended` line with how many calls had failed.
 *
 * @param log - the logger
 * @returns the observer `brokerEvents` calls
 * @example
 * ```ts
 * const events = brokerEvents(auditRecorder(audit), [eventLogger(log)]);
 * ```
 */
export function eventLogger(log: Logger): EventObserver {
  /** Failed upstream calls that started or lengthened a backoff, per provider, since its last success. */
  const failing = new Map<string, number>();
  return event => {
    const line = logLineOf(event);
    log[line.level](line.event, line.fields);
    if (
      event.kind === 'token.fetch_failed' &&
      event.grantEnded === undefined &&
      event.retryAfter !== undefined
    ) {
      failing.set(event.provider, (failing.get(event.provider) ?? 0) + 1);
    } else if (event.kind === 'token.fetched' && failing.has(event.provider)) {
      log.info('backoff_ended', {
        provider: event.provider,
        failed_calls: failing.get(event.provider)
      });
      failing.delete(event.provider);
    }
  };
}
