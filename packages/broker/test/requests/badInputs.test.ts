import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
  broker = await startBroker(idp);
  expect((await broker.login()).status).toBe(200);
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

const TOKEN = '/api/v1/providers/demo/token';

describe('bad requests', () => {
  test('malformed JSON is 400 invalid_request', async () => {
    const answer = await broker.request('POST', TOKEN, { raw: '{"scopes": [' });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  test('a body that is not JSON is 415 unsupported_media_type', async () => {
    const answer = await broker.request('POST', TOKEN, {
      raw: 'scopes=openid',
      contentType: 'application/x-www-form-urlencoded'
    });
    expect(answer.status).toBe(415);
    expect(answer.json.error).toBe('unsupported_media_type');
  });

  test('a body over 16 KiB is 413 payload_too_large', async () => {
    const answer = await broker.request('POST', TOKEN, {
      raw: JSON.stringify({ scopes: ['x'.repeat(17 * 1024)] })
    });
    expect(answer.status).toBe(413);
    expect(answer.json.error).toBe('payload_too_large');
  });

  test('an unknown provider is 404 unknown_provider', async () => {
    const answer = await broker.request('POST', '/api/v1/providers/nope/token', { body: {} });
    expect(answer.status).toBe(404);
    expect(answer.json.error).toBe('unknown_provider');
  });

  test.each([
    ['..'],
    ['%2e%2e'],
    ['demo%00'],
    ['a%2Fb'],
    ['d%C3%A9mo'],
    ['Demo'],
    ['-demo'],
    ['x'.repeat(65)],
    ['%E0%A4%A']
  ])('the provider id %s is 400 invalid_request', async id => {
    const answer = await broker.request('POST', `/api/v1/providers/${id}/token`, { body: {} });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  test('a provider id that is not valid percent-encoding is 400 on every route, not a 500', async () => {
    for (const [method, path] of [
      ['DELETE', '/api/v1/providers/%E0%A4%A/grant'],
      ['POST', '/api/v1/providers/%E0%A4%A/login']
    ] as const) {
      const answer = await broker.request(method, path, { body: {} });
      expect([method, answer.status, answer.json.error]).toEqual([method, 400, 'invalid_request']);
    }
  });

  test('scopes outside the allowed set are 403 scope_not_allowed without an IdP call', async () => {
    const calls = broker.upstreamCalls.length;
    const answer = await broker.request('POST', TOKEN, { body: { scopes: ['openid', 'admin'] } });
    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe('scope_not_allowed');
    const login = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: { scopes: ['admin'] }
    });
    expect(login.status).toBe(403);
    expect(broker.upstreamCalls.length).toBe(calls);
  });

  test.each([
    [{ scopes: 'openid' }],
    [{ scopes: [1] }],
    [{ min_ttl: -1 }],
    [{ min_ttl: 1.5 }],
    [{ min_ttl: '60' }],
    [{ refresh: true }],
    [[1, 2]]
  ])('the body %j is 400 invalid_request', async body => {
    const answer = await broker.request('POST', TOKEN, { body });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  test('an unknown route is 404 not_found', async () => {
    const answer = await broker.request('GET', '/api/v1/nothing');
    expect(answer.status).toBe(404);
    expect(answer.json.error).toBe('not_found');
  });

  test('a token request without a body uses the defaults', async () => {
    const answer = await broker.request('POST', TOKEN);
    expect(answer.status).toBe(200);
  });
});
