/**
 * Sign-out and admin revocation through HTTP against a real oidc-provider with RFC 7009 revocation:
 * the refresh token is dead upstream afterwards; an IdP outage still signs the user out and the
 * revocation is retried; admin calls need the admin role and a reason.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';
import { lastRefreshToken, redeem } from '../fixtures/idpChecks.js';

const admin = { 'x-broker-caller': 'admin', 'x-broker-client': 'jupyterhub-admin' };

describe('revocation', () => {
  let idp: IdP;
  let broker: TestBroker;

  beforeEach(async () => {
    idp = await startIdP();
    broker = await startBroker(idp);
    expect((await broker.login()).status).toBe(200);
  });
  afterEach(async () => {
    await broker.close();
    await idp.close();
  });

  test('sign-out revokes the refresh token at the IdP and forgets the grant', async () => {
    const refreshToken = lastRefreshToken(broker);
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    expect(broker.upstreamCalls.some(url => url.endsWith('/token/revocation'))).toBe(true);
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.json.error).toBe('login_required');
    // Idempotent: a second sign-out changes nothing and calls nobody.
    const calls = broker.upstreamCalls.length;
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    expect(broker.upstreamCalls.length).toBe(calls);
  });

  test('sign-out during an IdP outage still signs out, records the failure and retries later', async () => {
    const refreshToken = lastRefreshToken(broker);
    idp.down = true;
    const answer = await broker.request('DELETE', '/api/v1/providers/demo/grant');
    // The person is told the IdP did not revoke yet (it answered 204 as if all were done).
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      upstream: 'retrying',
      description:
        'Signed out here; the identity provider could not be reached to revoke the sign-in; the broker will try again.'
    });
    const listed = await broker.request('GET', '/api/v1/providers');
    expect(listed.json.providers[0].signed_in).toBe(false);
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events[0]).toMatchObject({
      type: 'logout',
      outcome: 'ok',
      reason: 'signed out here; not yet revoked at the identity provider (unreachable, retrying)'
    });
    expect(events[1]).toMatchObject({
      type: 'revoke',
      outcome: 'error',
      code: 'upstream_unavailable'
    });
    expect(await broker.context.revocations.pending()).toBe(1);

    // Not due yet: nothing is tried.
    expect(await broker.context.revocations.retryDue()).toEqual({ revoked: 0, waiting: 1 });
    idp.down = false;
    broker.advance(31);
    expect(await broker.context.revocations.retryDue()).toEqual({ revoked: 1, waiting: 0 });
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
    const after = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(after[0]).toMatchObject({ type: 'revoke', outcome: 'ok', client: null });
  });

  test('a retry that keeps failing backs off and gives up after the last attempt', async () => {
    idp.down = true;
    await broker.request('DELETE', '/api/v1/providers/demo/grant');
    let waits = 0;
    for (let attempt = 0; attempt < 12; attempt++) {
      broker.advance(3600);
      const result = await broker.context.revocations.retryDue();
      if (result.waiting === 0) break;
      waits++;
    }
    expect(waits).toBe(9);
    expect(await broker.context.revocations.pending()).toBe(0);
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events[0].reason).toMatch(/^gave up/);
  });

  test('admin revocation needs X-Broker-Caller admin; the refusal is recorded', async () => {
    const refused = await broker.request('POST', '/api/v1/admin/revoke', {
      body: { reason: 'offboarding' }
    });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe('forbidden');
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events[0]).toMatchObject({ type: 'denial', outcome: 'denied', code: 'forbidden' });
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );
  });

  test('admin revocation needs a reason and a known provider', async () => {
    for (const body of [{}, { reason: '' }, { reason: 'a\nb' }, { reason: 'x', force: 'yes' }]) {
      const bad = await broker.request('POST', '/api/v1/admin/revoke', { body, headers: admin });
      expect(bad.status).toBe(400);
    }
    const unknown = await broker.request('POST', '/api/v1/admin/revoke', {
      body: { provider: 'nope', reason: 'x' },
      headers: admin
    });
    expect(unknown.status).toBe(404);
  });

  test('admin revocation of every provider revokes upstream and forgets locally', async () => {
    const refreshToken = lastRefreshToken(broker);
    const answer = await broker.request('POST', '/api/v1/admin/revoke', {
      body: { reason: 'account compromised' },
      headers: admin
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      revoked: [{ provider: 'demo', upstream: 'revoked' }],
      failed: []
    });
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      false
    );
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events.find((e: { type: string }) => e.type === 'revoke').reason).toMatch(
      /account compromised/
    );
  });

  test('admin revocation keeps the grant when the IdP fails, unless forced', async () => {
    idp.down = true;
    const kept = await broker.request('POST', '/api/v1/admin/revoke', {
      body: { provider: 'demo', reason: 'offboarding' },
      headers: admin
    });
    expect(kept.json).toEqual({
      revoked: [],
      failed: [{ provider: 'demo', error: 'upstream_unavailable' }]
    });
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );

    broker.advance(10); // past the discovery backoff
    const forced = await broker.request('POST', '/api/v1/admin/revoke', {
      body: { provider: 'demo', reason: 'offboarding', force: true },
      headers: admin
    });
    expect(forced.json).toEqual({
      revoked: [{ provider: 'demo', upstream: 'retrying' }],
      failed: []
    });
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      false
    );
    expect(await broker.context.revocations.pending()).toBe(1);
  });
});
