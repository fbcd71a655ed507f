/**
 * Every broker event reaches the audit trail, the log and the metrics, through the subscribers
 * `createContext` wires (not stand-ins). The table below has one case per event kind: adding a kind
 * to `events.ts` without a case here does not compile.
 */
import { describe, expect, test } from '@jest/globals';

import { AuditUnavailable, type AuditInput } from '../../src/audit.js';
import { validateConfig } from '../../src/config.js';
import { createContext } from '../../src/context.js';
import {
  type BrokerEvent,
  type BrokerEventKind,
  outcomeOf,
  RECORDED_BEFORE_ANSWER
} from '../../src/events.js';
import { createLogger } from '../../src/log.js';

/** One kind's sample event and what each subscriber must make of it. */
interface Case<K extends BrokerEventKind> {
  readonly event: Extract<BrokerEvent, { kind: K }>;
  /** The audit record (time aside). */
  readonly audit: AuditInput;
  /** The log line's level and name, and fields it must carry. */
  readonly log: { level: string; event: string; fields?: Record<string, unknown> };
  /** Samples of the Prometheus text the event adds to, besides `token_broker_events_total`. */
  readonly metrics: readonly string[];
}

const CASES: { readonly [K in BrokerEventKind]: Case<K> } = {
  'login.completed': {
    event: {
      kind: 'login.completed',
      provider: 'demo',
      client: 'jupyterlab',
      method: 'device',
      scopes: ['openid'],
      refreshable: true,
      upstreamSeconds: null
    },
    audit: {
      type: 'login',
      provider: 'demo',
      client: 'jupyterlab',
      scopes: ['openid'],
      outcome: 'ok',
      reason: 'device flow completed'
    },
    log: { level: 'info', event: 'login_completed', fields: { method: 'device' } },
    metrics: []
  },
  'login.failed': {
    event: {
      kind: 'login.failed',
      provider: 'demo',
      client: 'jupyterlab',
      method: 'browser',
      code: 'upstream_unavailable',
      status: 503,
      description: 'connect ECONNREFUSED',
      upstreamSeconds: 0.2
    },
    audit: {
      type: 'login',
      provider: 'demo',
      client: 'jupyterlab',
      outcome: 'error',
      code: 'upstream_unavailable',
      reason: 'failed'
    },
    log: { level: 'error', event: 'login_failed', fields: { error: 'upstream_unavailable' } },
    metrics: ['token_broker_upstream_duration_seconds_count{operation="code",provider="demo"} 1']
  },
  logout: {
    event: { kind: 'logout', provider: 'demo', client: 'jupyterlab', upstream: 'revoked' },
    audit: {
      type: 'logout',
      provider: 'demo',
      client: 'jupyterlab',
      outcome: 'ok',
      reason: 'signed out (upstream: revoked)'
    },
    log: { level: 'info', event: 'signed_out' },
    metrics: []
  },
  'token.issued': {
    event: {
      kind: 'token.issued',
      provider: 'demo',
      client: 'kernel',
      scopes: ['demo:read'],
      expiresAt: 2_000_000_000,
      cached: true
    },
    audit: {
      type: 'issue',
      provider: 'demo',
      client: 'kernel',
      scopes: ['demo:read'],
      outcome: 'ok'
    },
    log: { level: 'debug', event: 'token_issued', fields: { expires_at: 2_000_000_000 } },
    metrics: [
      'token_broker_tokens_issued_total{outcome="ok",provider="demo"} 1',
      'token_broker_token_cache_hits_total{provider="demo"} 1'
    ]
  },
  'token.denied': {
    event: {
      kind: 'token.denied',
      provider: 'demo',
      client: '@acme/archive:plugin',
      scopes: null,
      code: 'consent_required'
    },
    audit: {
      type: 'denial',
      provider: 'demo',
      client: '@acme/archive:plugin',
      scopes: null,
      outcome: 'denied',
      code: 'consent_required'
    },
    log: { level: 'info', event: 'token_denied', fields: { reason: 'consent_required' } },
    metrics: ['token_broker_tokens_issued_total{outcome="denied",provider="demo"} 1']
  },
  'token.failed': {
    event: {
      kind: 'token.failed',
      provider: 'demo',
      client: 'kernel',
      scopes: ['demo:read'],
      code: 'upstream_unavailable'
    },
    audit: {
      type: 'issue',
      provider: 'demo',
      client: 'kernel',
      scopes: ['demo:read'],
      outcome: 'error',
      code: 'upstream_unavailable'
    },
    log: { level: 'info', event: 'token_failed' },
    metrics: ['token_broker_tokens_issued_total{outcome="error",provider="demo"} 1']
  },
  'token.fetched': {
    event: {
      kind: 'token.fetched',
      provider: 'svc',
      grant: 'client_credentials',
      scopes: ['api:read'],
      expiresAt: 2_000_000_000,
      seconds: 0.05
    },
    audit: {
      type: 'refresh',
      provider: 'svc',
      client: null,
      scopes: ['api:read'],
      outcome: 'ok',
      reason: 'client_credentials'
    },
    log: { level: 'info', event: 'token_fetched', fields: { grant: 'client_credentials' } },
    metrics: [
      'token_broker_upstream_duration_seconds_count{operation="client_credentials",provider="svc"} 1'
    ]
  },
  'token.fetch_failed': {
    event: {
      kind: 'token.fetch_failed',
      provider: 'demo',
      grant: 'refresh_token',
      scopes: null,
      code: 'invalid_grant',
      description: 'The grant was revoked.',
      grantEnded: 'invalid_grant',
      seconds: 0.03
    },
    audit: {
      type: 'refresh',
      provider: 'demo',
      client: null,
      scopes: null,
      outcome: 'error',
      code: 'invalid_grant'
    },
    log: { level: 'info', event: 'grant_ended', fields: { reason: 'invalid_grant' } },
    metrics: [
      'token_broker_refreshes_total{outcome="invalid_grant",provider="demo"} 1',
      'token_broker_upstream_duration_seconds_count{operation="refresh",provider="demo"} 1'
    ]
  },
  'grant.revoked': {
    event: {
      kind: 'grant.revoked',
      provider: 'demo',
      client: 'jupyterlab',
      by: 'admin',
      reason: 'left the project',
      scopes: ['openid'],
      upstream: 'failed',
      code: 'upstream_unavailable',
      seconds: 1.5
    },
    audit: {
      type: 'revoke',
      provider: 'demo',
      client: 'jupyterlab',
      scopes: ['openid'],
      outcome: 'error',
      code: 'upstream_unavailable',
      reason: 'admin: left the project'
    },
    log: { level: 'warn', event: 'grant_revoked', fields: { by: 'admin', upstream: 'failed' } },
    metrics: [
      'token_broker_upstream_duration_seconds_count{operation="revocation",provider="demo"} 1'
    ]
  },
  'revocation.retried': {
    event: {
      kind: 'revocation.retried',
      provider: 'demo',
      attempts: 11,
      reason: 'user: sign-out',
      code: 'upstream_unavailable',
      gaveUp: true,
      seconds: 2
    },
    audit: {
      type: 'revoke',
      provider: 'demo',
      client: null,
      outcome: 'error',
      code: 'upstream_unavailable',
      reason: 'gave up: retry 10: user: sign-out'
    },
    log: { level: 'warn', event: 'revocation_given_up', fields: { attempts: 11 } },
    metrics: [
      'token_broker_upstream_duration_seconds_count{operation="revocation",provider="demo"} 1'
    ]
  },
  'revocation.dropped': {
    event: { kind: 'revocation.dropped', provider: 'demo' },
    audit: {
      type: 'revoke',
      provider: 'demo',
      client: null,
      outcome: 'error',
      code: 'upstream_unavailable',
      reason: 'retry queue full: the oldest pending revocation was dropped'
    },
    log: { level: 'warn', event: 'revocation_dropped' },
    metrics: []
  },
  'admin.revoked': {
    event: {
      kind: 'admin.revoked',
      provider: null,
      client: 'jupyterlab',
      reason: 'offboarding',
      force: true,
      revoked: 2,
      failed: 0
    },
    audit: {
      type: 'revoke',
      provider: null,
      client: 'jupyterlab',
      outcome: 'ok',
      reason: 'admin: offboarding (force): 2 revoked, 0 failed'
    },
    log: { level: 'info', event: 'admin_revoked', fields: { revoked: 2 } },
    metrics: []
  },
  'access.denied': {
    event: {
      kind: 'access.denied',
      provider: 'hub',
      client: 'jupyterlab',
      code: 'forbidden',
      reason: 'sign-out of the hub login'
    },
    audit: {
      type: 'denial',
      provider: 'hub',
      client: 'jupyterlab',
      outcome: 'denied',
      code: 'forbidden',
      reason: 'sign-out of the hub login'
    },
    log: { level: 'info', event: 'access_denied', fields: { error: 'forbidden' } },
    metrics: []
  },
  'consent.decided': {
    event: {
      kind: 'consent.decided',
      provider: 'demo',
      client: 'jupyterlab',
      plugin: '@acme/archive:plugin',
      decision: 'allow_always'
    },
    audit: {
      type: 'consent',
      provider: 'demo',
      client: 'jupyterlab',
      outcome: 'ok',
      reason: 'allow_always for @acme/archive:plugin'
    },
    log: { level: 'info', event: 'consent_decided', fields: { decision: 'allow_always' } },
    metrics: []
  },
  egress: {
    event: {
      kind: 'egress',
      provider: 'archive',
      client: 'kernel',
      method: 'GET',
      origin: 'https://archive.example.org',
      path: '/tap/sync',
      status: 200,
      bytesIn: 0,
      bytesOut: 1234,
      durationMs: 15,
      code: null,
      refused: false
    },
    audit: {
      type: 'egress',
      provider: 'archive',
      client: 'kernel',
      outcome: 'ok',
      method: 'GET',
      origin: 'https://archive.example.org',
      path: '/tap/sync',
      status: 200,
      bytes_in: 0,
      bytes_out: 1234,
      duration_ms: 15
    },
    log: { level: 'info', event: 'egress', fields: { status: 200, bytes_out: 1234 } },
    metrics: [
      'token_broker_egress_calls_total{outcome="ok",provider="archive"} 1',
      'token_broker_egress_bytes_total{direction="out",provider="archive"} 1234'
    ]
  }
};

/** A broker's services with the real subscribers, logging at debug into `lines`. */
function wired(auditPath: string | null = null) {
  const lines: string[] = [];
  const context = createContext(validateConfig({ providers: [], audit: { path: auditPath } }), {
    log: createLogger({ level: 'debug', sink: line => lines.push(line) })
  });
  const logged = () => lines.map(line => JSON.parse(line) as Record<string, unknown>);
  return { context, logged };
}

/** Lets a best-effort audit write settle. */
const settle = () => new Promise(resolve => setImmediate(resolve));

describe('every broker event reaches the audit trail, the log and the metrics', () => {
  test.each(Object.keys(CASES) as BrokerEventKind[])('%s', async kind => {
    const { event, audit, log, metrics } = CASES[kind] as Case<BrokerEventKind>;
    const { context, logged } = wired();
    await context.events.emit(event);
    await settle();

    const [recorded, ...more] = context.audit.recent({ limit: 10 });
    expect(more).toEqual([]);
    expect(recorded).toEqual({
      time: expect.any(String),
      scopes: null,
      ...audit
    });

    const line = logged().find(l => l.event === log.event);
    expect(line).toMatchObject({
      level: log.level,
      ...('provider' in event ? { provider: event.provider } : {}),
      ...log.fields
    });

    const text = context.metrics.render();
    const labels = `event="${kind}",outcome="${outcomeOf(event)}",provider="${event.provider ?? ''}"`;
    expect(text).toContain(`token_broker_events_total{${labels}} 1`);
    for (const sample of metrics) expect(text).toContain(sample);
    context.revocations.close();
  });
});

describe('when the audit trail cannot be written', () => {
  test.each(Object.keys(CASES) as BrokerEventKind[])(
    '%s: fail-closed kinds reject and are neither logged nor counted; the others go on',
    async kind => {
      const { event, log } = CASES[kind] as Case<BrokerEventKind>;
      const { context, logged } = wired('/dev/full');
      const emitted = context.events.emit(event);
      if (RECORDED_BEFORE_ANSWER[kind]) {
        await expect(emitted).rejects.toBeInstanceOf(AuditUnavailable);
        expect(logged().some(l => l.event === log.event)).toBe(false);
        expect(context.metrics.render()).not.toContain(`event="${kind}"`);
      } else {
        await expect(emitted).resolves.toBeUndefined();
        expect(logged().some(l => l.event === log.event)).toBe(true);
        expect(context.metrics.render()).toContain(`event="${kind}"`);
      }
      await settle();
      context.revocations.close();
      await context.audit.close();
    }
  );
});

describe('upstream token calls', () => {
  test('every grant is timed, client credentials and token exchange under their own operation (were never timed)', async () => {
    const { context } = wired();
    const operations = {
      refresh_token: 'refresh',
      hub: 'refresh',
      client_credentials: 'client_credentials',
      token_exchange: 'token_exchange'
    } as const;
    for (const grant of Object.keys(operations) as Array<keyof typeof operations>) {
      await context.events.emit({
        kind: 'token.fetch_failed',
        provider: grant.replace('_', '-'),
        grant,
        scopes: null,
        code: 'upstream_unavailable',
        description: 'The identity provider did not answer in time.',
        retryAfter: 2,
        seconds: 10
      });
    }
    const text = context.metrics.render();
    for (const [grant, operation] of Object.entries(operations)) {
      expect(text).toContain(
        `token_broker_upstream_duration_seconds_count{operation="${operation}",provider="${grant.replace('_', '-')}"} 1`
      );
    }
    context.revocations.close();
  });
});
