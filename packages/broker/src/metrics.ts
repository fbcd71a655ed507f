/**
 * The broker's Prometheus metrics, kept in memory and rendered in the text exposition format
 * (version 0.0.4) by hand: counters and one histogram, labelled only with provider ids, outcomes,
 * operations and error codes — never with a client label or anything a caller chose freely, so the
 * number of series stays bounded. The broker's events (`events.ts`) reach them through
 * {@link Metrics.count}, subscribed once in `context.ts`; error answers are counted where they are
 * written (`middleware.ts`).
 */
import { type BrokerEvent, outcomeOf, type UpstreamGrant } from './events.js';

/** Label names to values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** Upper bounds (seconds) of the upstream latency histogram. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
];

/** Escapes a label value as the text format wants it. */
function escapeLabel(value: string): string {
  if (!/[\\\n"]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The series of a label set: `name="value"` pairs by name. Counted on every token request. */
function seriesKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let key = '';
  for (const name of names) {
    key += `${key === '' ? '' : ','}${name}="${escapeLabel(labels[name])}"`;
  }
  return key;
}

/** A monotonically increasing count per label set. */
export class Counter {
  private readonly values = new Map<string, number>();

  /**
   * @param name - metric name (`token_broker_…_total`)
   * @param help - one line for `# HELP`
   */
  constructor(
    readonly name: string,
    readonly help: string
  ) {}

  /** Adds `by` (default 1) to the series of `labels`. */
  inc(labels: Labels, by = 1): void {
    const key = seriesKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  /** The current value of a series (0 when never incremented). */
  value(labels: Labels): number {
    return this.values.get(seriesKey(labels)) ?? 0;
  }

  /** The metric in text format. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(`${this.name}{${key}} ${value}`);
    return lines.join('\n');
  }
}

/** Observations counted into cumulative buckets per label set. */
export class Histogram {
  private readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>();

  /**
   * @param name - metric name (`token_broker_…_seconds`)
   * @param help - one line for `# HELP`
   * @param bounds - bucket upper bounds, ascending
   */
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[] = LATENCY_BUCKETS
  ) {}

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const key = seriesKey(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      s = { buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.bounds.forEach((bound, i) => {
      if (value <= bound) s.buckets[i]++;
    });
    s.sum += value;
    s.count++;
  }

  /** Observations of a series so far. */
  count(labels: Labels): number {
    return this.series.get(seriesKey(labels))?.count ?? 0;
  }

  /** The metric in text format. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, s] of this.series) {
      const sep = key === '' ? '' : ',';
      this.bounds.forEach((bound, i) => {
        lines.push(`${this.name}_bucket{${key}${sep}le="${bound}"} ${s.buckets[i]}`);
      });
      lines.push(`${this.name}_bucket{${key}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum{${key}} ${s.sum}`);
      lines.push(`${this.name}_count{${key}} ${s.count}`);
    }
    return lines.join('\n');
  }
}

/** What an upstream call was for. */
export type UpstreamOperation =
  'refresh' | 'code' | 'revocation' | 'client_credentials' | 'token_exchange';

/** The latency operation of an upstream token call: a hub request counts as a refresh. */
const OPERATION_OF: Readonly<Record<UpstreamGrant, UpstreamOperation>> = {
  refresh_token: 'refresh',
  hub: 'refresh',
  client_credentials: 'client_credentials',
  token_exchange: 'token_exchange'
};

/**
 * Every metric the broker exports.
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * metrics.tokensIssued.inc({ provider: 'demo', outcome: 'ok' });
 * const text = metrics.render();
 * ```
 */
export class Metrics {
  /** Token requests by provider and outcome (`ok`, `denied`, `error`). */
  readonly tokensIssued = new Counter(
    'token_broker_tokens_issued_total',
    'Token requests answered, by provider and outcome.'
  );
  /** Tokens served from the cache without an upstream call. */
  readonly cacheHits = new Counter(
    'token_broker_token_cache_hits_total',
    'Access tokens served from the cache, by provider.'
  );
  /** Refresh token grants by provider and outcome. */
  readonly refreshes = new Counter(
    'token_broker_refreshes_total',
    'Refresh token grants, by provider and outcome (ok, rejected, unavailable, error).'
  );
  /** Latency of calls to identity providers. */
  readonly upstreamLatency = new Histogram(
    'token_broker_upstream_duration_seconds',
    'Duration of calls to identity providers, by provider and operation.'
  );
  /** Error answers by code. */
  readonly failures = new Counter('token_broker_failures_total', 'Error answers, by error code.');
  /** Egress calls by provider and outcome (`ok`, `denied`, `error`). */
  readonly egressCalls = new Counter(
    'token_broker_egress_calls_total',
    'Egress calls, by provider and outcome (ok: the upstream answered, whatever its status).'
  );
  /** Body bytes of egress calls by provider and direction (`in`: to the upstream; `out`: back). */
  readonly egressBytes = new Counter(
    'token_broker_egress_bytes_total',
    'Body bytes through the egress, by provider and direction (in: request, out: response).'
  );
  /** Every broker event by kind, provider and outcome. */
  readonly events = new Counter(
    'token_broker_events_total',
    'Broker events (logins, sign-outs, issues, upstream tokens, revocations, denials, consents), by event, provider and outcome.'
  );

  /**
   * Counts a broker event: every event in {@link Metrics.events}, and each in its own metrics.
   *
   * @param event - what happened
   */
  count(event: BrokerEvent): void {
    const outcome = outcomeOf(event);
    this.events.inc({ event: event.kind, provider: event.provider ?? '', outcome });
    switch (event.kind) {
      case 'token.issued':
      case 'token.denied':
      case 'token.failed':
        this.tokensIssued.inc({ provider: event.provider, outcome });
        if (event.kind === 'token.issued' && event.cached) {
          this.cacheHits.inc({ provider: event.provider });
        }
        return;
      case 'token.fetched':
      case 'token.fetch_failed':
        if (event.grant === 'refresh_token' || event.grant === 'hub') {
          this.refreshes.inc({
            provider: event.provider,
            outcome: event.kind === 'token.fetched' ? 'ok' : event.code
          });
        }
        this.upstreamLatency.observe(
          { provider: event.provider, operation: OPERATION_OF[event.grant] },
          event.seconds
        );
        return;
      case 'login.completed':
      case 'login.failed':
        if (event.upstreamSeconds !== null && event.provider !== null) {
          this.upstreamLatency.observe(
            { provider: event.provider, operation: 'code' },
            event.upstreamSeconds
          );
        }
        return;
      case 'egress': {
        const provider = event.provider ?? '';
        this.egressCalls.inc({ provider, outcome });
        if (event.bytesIn > 0) this.egressBytes.inc({ provider, direction: 'in' }, event.bytesIn);
        if (event.bytesOut > 0)
          this.egressBytes.inc({ provider, direction: 'out' }, event.bytesOut);
        return;
      }
      case 'grant.revoked':
      case 'revocation.retried':
        if (event.seconds !== null) {
          this.upstreamLatency.observe(
            { provider: event.provider, operation: 'revocation' },
            event.seconds
          );
        }
        return;
      default:
        return;
    }
  }

  /** Every metric in the text exposition format. */
  render(): string {
    return (
      [
        this.tokensIssued,
        this.cacheHits,
        this.refreshes,
        this.upstreamLatency,
        this.failures,
        this.egressCalls,
        this.egressBytes,
        this.events
      ]
        .map(m => m.render())
        .join('\n') + '\n'
    );
  }
}

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
