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

describe('sign-out', () => {
  test('forgets grant and cached tokens, is idempotent, then tokens need a login', async () => {
    expect((await broker.login()).status).toBe(200);
    expect(
      (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);

    const first = await broker.request('DELETE', '/api/v1/providers/demo/grant');
    expect(first.status).toBe(204);
    expect(first.text).toBe('');
    const second = await broker.request('DELETE', '/api/v1/providers/demo/grant');
    expect(second.status).toBe(204);

    expect(await broker.context.store.get('demo')).toBeUndefined();
    const answer = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('login_required');
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      signed_in: false,
      account: null,
      expires_at: null,
      needs_login: true
    });
  });

  test('sign-out of an unknown provider is 404', async () => {
    const answer = await broker.request('DELETE', '/api/v1/providers/nope/grant');
    expect(answer.status).toBe(404);
    expect(answer.json.error).toBe('unknown_provider');
  });
});
