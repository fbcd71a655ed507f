/**
 * `GET /metrics` through HTTP: Prometheus text that counts what a user of the broker did.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

/** The value of one series in the text format, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find(l => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics', () => {
  let idp: IdP;
  let broker: TestBroker;

  beforeAll(async () => {
    idp = await startIdP();
    broker = await startBroker(idp);
  });
  afterAll(async () => {
    await broker.close();
    await idp.close();
  });

  test('needs the broker key', async () => {
    const answer = await broker.request('GET', '/metrics', { key: false });
    expect(answer.status).toBe(401);
  });

  test('counts issues, cache hits, refreshes, upstream latency and failures', async () => {
    const before = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(before.json.error).toBe('login_required');
    expect((await broker.login()).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect(
        (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
      ).toBe(200);
    }
    broker.advance(200);
    expect(
      (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);

    const answer = await broker.request('GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = answer.text;
    expect(sample(text, 'token_broker_tokens_issued_total{outcome="ok",provider="demo"}')).toBe(3);
    expect(sample(text, 'token_broker_tokens_issued_total{outcome="denied",provider="demo"}')).toBe(
      1
    );
    expect(sample(text, 'token_broker_token_cache_hits_total{provider="demo"}')).toBe(2);
    expect(sample(text, 'token_broker_refreshes_total{outcome="ok",provider="demo"}')).toBe(1);
    expect(
      sample(
        text,
        'token_broker_upstream_duration_seconds_count{operation="refresh",provider="demo"}'
      )
    ).toBe(1);
    expect(
      sample(text, 'token_broker_upstream_duration_seconds_count{operation="code",provider="demo"}')
    ).toBe(1);
    expect(
      sample(
        text,
        'token_broker_upstream_duration_seconds_bucket{operation="refresh",provider="demo",le="+Inf"}'
      )
    ).toBe(1);
    expect(sample(text, 'token_broker_failures_total{code="login_required"}')).toBe(1);
    expect(text).toContain('# TYPE token_broker_upstream_duration_seconds histogram');
    // Nothing a caller chose (client labels) and no token material.
    expect(text).not.toMatch(/client=|eyJ/);
  });
});
