import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

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

const guarded: [string, string][] = [
  ['GET', '/api/v1/providers'],
  ['POST', '/api/v1/providers/demo/token'],
  ['POST', '/api/v1/providers/demo/login'],
  ['DELETE', '/api/v1/providers/demo/grant'],
  ['GET', '/api/v1/callback?code=x&state=y'],
  ['GET', '/api/v1/no-such-route']
];

describe('the broker key', () => {
  test('health answers without the key', async () => {
    const health = await broker.request('GET', '/api/v1/health', { key: false });
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok', version: expect.any(String) });
  });

  test.each(guarded)('%s %s without the key is 401 unauthorized', async (method, path) => {
    const answer = await broker.request(method, path, { key: false, body: {} });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('unauthorized');
  });

  test.each(guarded)('%s %s with a wrong key is 401 unauthorized', async (method, path) => {
    const answer = await broker.request(method, path, {
      key: false,
      headers: { 'x-broker-key': broker.key.slice(0, -1) + 'x' }
    });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({ error: 'unauthorized', error_description: expect.any(String) });
  });

  test('no IdP call was made for any refused request', () => {
    expect(broker.upstreamCalls).toEqual([]);
  });
});
