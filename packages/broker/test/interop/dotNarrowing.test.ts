/**
 * What the reporter saw (defect 5): Django OAuth Toolkit with narrowing `refresh` binds the
 * rotated refresh token to the narrowed scope, so the grant shrinks for good. The broker cannot
 * prevent it with that method (`refuse` does: `narrowing.test.ts`), but it must say so: the panel
 * lists what the grant can still give, and a scope it lost is refused with the way out.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startDot, type DotIdP } from '../fixtures/dot.js';

const TTL = 30;

describe('django-oauth-toolkit with narrowing "refresh" (what the issue reported)', () => {
  let dot: DotIdP;
  let broker: TestBroker;

  beforeAll(async () => {
    dot = await startDot({ accessTokenTtl: TTL });
    broker = await startBroker(dot, {
      provider: { ...dot.brokerProvider, narrowing: 'refresh' },
      config: { refresh_margin_seconds: 10 }
    });
    expect((await broker.login()).status).toBe(200);
  }, 60000);
  afterAll(async () => {
    await broker?.close();
    await dot?.close();
  });

  test('DOT binds the rotated refresh token to the narrowed scope: the panel says so and email is refused', async () => {
    const token = (body: Record<string, unknown> = {}) =>
      broker.request('POST', '/api/v1/providers/demo/token', { body });
    expect((await token({ scopes: ['demo:read'] })).json.scopes).toEqual(['demo:read']);
    expect((await dot.state()).grants.map(g => g.scope)).toEqual(['demo:read']);

    broker.advance(TTL + 1);
    const later = await token();
    expect([later.status, later.json.scopes]).toEqual([200, ['demo:read']]);
    const email = await token({ scopes: ['openid', 'email'] });
    expect([email.status, email.json.error]).toEqual([403, 'scope_not_allowed']);
    // The panel lists what the grant can still give, not what the sign-in asked for.
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0].scopes).toEqual(['demo:read']);
  });
});
