/**
 * Structured logging: one JSON object per line on stderr (stdout carries only the ready line).
 *
 * The redaction guard is a second line of defence: call sites never pass token material, and if one
 * ever does, fields whose name looks secret and values that look like tokens are replaced before the
 * line is written.
 */

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
/** JWTs and long opaque strings. */
const TOKENISH = /^(eyJ[\w-]*\.[\w-]*\.[\w-]*|[A-Za-z0-9_~.+/=-]{40,})$/;

/**
 * Replaces secret-looking fields and token-looking values.
 *
 * @param value - any JSON value
 * @returns a copy safe to write
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 5) return '[deep]';
  if (typeof value === 'string') return TOKENISH.test(value) ? '[redacted]' : value;
  if (Array.isArray(value)) return value.map(v => redact(v, depth + 1));
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, depth + 1) };
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
