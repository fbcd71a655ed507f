/**
 * What an admin (`X-Broker-Caller: admin`) reaches: the provider list, which the hub's admin list
 * shows per server, and admin revocation; never a token, a sign-in, a sign-out or a consent.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

const admin = { 'x-broker-caller': 'admin', 'x-broker-client': 'jupyterhub-admin' };

describe('an admin caller', () => {
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

  test('lists the providers as the owner sees them, without token material', async () => {
    const owner = await broker.request('GET', '/api/v1/providers');
    const listed = await broker.request('GET', '/api/v1/providers', { headers: admin });
    expect(listed.status).toBe(200);
    expect(listed.headers['cache-control']).toBe('no-store');
    expect(listed.json).toEqual(owner.json);
    expect(listed.json.providers[0]).toMatchObject({
      id: 'demo',
      signed_in: true,
      account: 'alice'
    });
    expect(listed.text).not.toMatch(/access_token|refresh_token|eyJ/);
  });

  test('gets 403 on every other route, each refusal in the audit trail, and nothing changes', async () => {
    const attempts: Array<[string, string, object | undefined]> = [
      ['POST', '/api/v1/providers/demo/token', {}],
      ['POST', '/api/v1/providers/demo/login', {}],
      ['DELETE', '/api/v1/providers/demo/grant', undefined],
      ['GET', '/api/v1/events', undefined],
      ['GET', '/api/v1/consents', undefined],
      ['PUT', '/api/v1/consents', { client: 'x', provider: 'demo', decision: 'allow' }],
      ['GET', '/metrics', undefined]
    ];
    for (const [method, path, body] of attempts) {
      const answer = await broker.request(method, path, { headers: admin, body });
      expect([method, path, answer.status, answer.json?.error]).toEqual([
        method,
        path,
        403,
        'forbidden'
      ]);
      expect(answer.text).not.toContain('access_token');
    }
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    const denials = events.filter((e: { type: string }) => e.type === 'denial');
    expect(denials).toHaveLength(attempts.length);
    expect(denials[0]).toMatchObject({
      outcome: 'denied',
      code: 'forbidden',
      client: 'jupyterhub-admin'
    });
    const demo = (await broker.request('GET', '/api/v1/providers')).json.providers[0];
    expect(demo.signed_in).toBe(true);
    expect(
      (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);
  });
});
