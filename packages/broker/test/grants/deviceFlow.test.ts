import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SCOPES, startGrantsIdP, type GrantsIdP } from '../fixtures/grantsIdp.js';

let idp: GrantsIdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startGrantsIdP();
  broker = await startBroker(idp, { provider: { client_id: 'device-client', scopes: SCOPES } });
});
afterAll(async () => {
  broker.context.devices.cancel();
  await broker.close();
  await idp.close();
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise(r => setTimeout(r, 100));
  }
}

const status = () => broker.request('GET', '/api/v1/providers/demo/login');

describe('device authorization grant (RFC 8628)', () => {
  test('the broker polls itself, honours slow_down, and finishes the sign-in', async () => {
    idp.deviceInterval = 1;
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'device' }
    });
    expect(started.status).toBe(200);
    expect(started.headers['cache-control']).toBe('no-store');
    expect(Object.keys(started.json).sort()).toEqual(
      [
        'expires_at',
        'interval',
        'user_code',
        'verification_uri',
        'verification_uri_complete'
      ].sort()
    );
    expect(started.json.interval).toBe(1);
    expect(started.json.verification_uri).toBe(`${idp.issuer}/device`);
    expect(started.text).not.toMatch(/device_code/);
    expect((await status()).json.status).toBe('pending');

    // The IdP now wants polls 2 s apart: the broker's next 1 s poll gets slow_down (+5 s).
    idp.deviceInterval = 2;
    await until(async () => idp.slowDowns > 0, 6000);
    const pollsAtSlowDown = idp.devicePolls;
    await idp.approveDevice(started.json.user_code, 'alice');
    // Nothing is polled during the lengthened interval.
    await new Promise(r => setTimeout(r, 3000));
    expect(idp.devicePolls).toBe(pollsAtSlowDown);
    await until(async () => (await status()).json.status === 'done', 10000);
    expect(idp.slowDowns).toBe(1);

    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({ signed_in: true, account: 'alice' });
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.status).toBe(200);
    expect((await broker.context.store.get('demo'))?.refreshToken).toBeTruthy();
  }, 30000);

  test('a refused device login ends as failed, nothing stored', async () => {
    idp.deviceInterval = 1;
    await broker.request('DELETE', '/api/v1/providers/demo/grant');
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'device', scopes: ['demo:read'] }
    });
    expect(started.status).toBe(200);
    await idp.denyDevice(started.json.user_code);
    await until(async () => (await status()).json.status === 'failed', 8000);
    expect((await status()).json.error).toBe('invalid_request');
    expect(await broker.context.store.get('demo')).toBeUndefined();
  }, 15000);

  test('a device-flow sign-in is in the audit trail, the log and the metrics (it was only logged)', async () => {
    idp.deviceInterval = 1;
    await broker.request('DELETE', '/api/v1/providers/demo/grant');
    const logsBefore = broker.logs.length;
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'device' },
      headers: { 'x-broker-client': '@acme/archive:plugin' }
    });
    expect(started.status).toBe(200);
    await idp.approveDevice(started.json.user_code, 'alice');
    await until(async () => (await status()).json.status === 'done', 8000);

    const events = (await broker.request('GET', '/api/v1/events?provider=demo')).json.events;
    expect(events[0]).toMatchObject({
      type: 'login',
      provider: 'demo',
      client: '@acme/archive:plugin',
      outcome: 'ok',
      reason: 'device flow completed'
    });
    expect(events[0].scopes).toEqual(expect.arrayContaining(['openid']));
    const completed = broker.logs
      .slice(logsBefore)
      .map(line => JSON.parse(line))
      .find(line => line.event === 'login_completed');
    expect(completed).toMatchObject({ provider: 'demo', method: 'device' });
    const metrics = (await broker.request('GET', '/metrics')).text;
    expect(metrics).toMatch(
      /token_broker_events_total\{event="login.completed",outcome="ok",provider="demo"\} [1-9]/
    );
  }, 15000);

  test('a refused device login is in the audit trail as a failed login', async () => {
    idp.deviceInterval = 1;
    await broker.request('DELETE', '/api/v1/providers/demo/grant');
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'device' }
    });
    await idp.denyDevice(started.json.user_code);
    await until(async () => (await status()).json.status === 'failed', 8000);
    const events = (await broker.request('GET', '/api/v1/events?provider=demo')).json.events;
    expect(events[0]).toMatchObject({
      type: 'login',
      provider: 'demo',
      outcome: 'error',
      code: 'invalid_request',
      reason: 'device flow failed'
    });
  }, 15000);

  test('an unknown method is 400', async () => {
    const answer = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'carrier-pigeon' }
    });
    expect(answer.status).toBe(400);
  });
});
