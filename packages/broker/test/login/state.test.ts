import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
});
beforeEach(async () => {
  await broker?.close();
  broker = await startBroker(idp);
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

async function startLogin(user = 'alice'): Promise<URL> {
  const started = await broker.request('POST', '/api/v1/providers/demo/login', { user, body: {} });
  expect(started.status).toBe(200);
  return idp.authorize(started.json.authorization_url);
}

async function expectSignedOut(): Promise<void> {
  const list = await broker.request('GET', '/api/v1/providers');
  expect(list.json.providers[0].signed_in).toBe(false);
  expect(await broker.context.store.get('demo')).toBeUndefined();
}

const json = { accept: 'application/json' };

describe('login state', () => {
  test('a wrong state is 400 invalid_request and stores nothing', async () => {
    const redirect = await startLogin();
    redirect.searchParams.set('state', 'not-the-state');
    const answer = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
    await expectSignedOut();
  });

  test('a replayed state is 400 and the replay stores nothing', async () => {
    const redirect = await startLogin();
    const first = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(first.status).toBe(200);
    await broker.request('DELETE', '/api/v1/providers/demo/grant');
    const replay = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe('invalid_request');
    await expectSignedOut();
  });

  test("another user's state is 400, stores nothing, and burns the state", async () => {
    const redirect = await startLogin('alice');
    const mallory = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      user: 'mallory',
      headers: json
    });
    expect(mallory.status).toBe(400);
    expect(mallory.json.error).toBe('invalid_request');
    await expectSignedOut();
    const alice = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(alice.status).toBe(400);
    await expectSignedOut();
  });

  test('an expired state is 400', async () => {
    const redirect = await startLogin();
    broker.advance(601);
    const answer = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(answer.status).toBe(400);
    await expectSignedOut();
  });

  test('the HTML answer of a failed callback tells the opener ok:false', async () => {
    const answer = await broker.request('GET', '/api/v1/callback?code=abc&state=nope');
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/text\/html/);
    expect(answer.text).toContain('"ok":false');
    expect(answer.text).toContain('"error":"invalid_request"');
    expect(answer.text).not.toContain('abc');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['content-security-policy']).toMatch(/^default-src 'none'; script-src/);
    expect(answer.headers['referrer-policy']).toBe('no-referrer');
  });

  test('a login without X-Broker-User is 400', async () => {
    const answer = await broker.request('POST', '/api/v1/providers/demo/login', {
      user: null,
      body: {}
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  test('the IdP refusing the sign-in is reported, nothing stored', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    const state = new URL(started.json.authorization_url).searchParams.get('state') as string;
    const query = new URLSearchParams({ error: 'access_denied', state, iss: idp.issuer });
    const answer = await broker.request('GET', `/api/v1/callback?${query}`, { headers: json });
    expect(answer.status).toBe(400);
    expect(answer.json.error_description).toMatch(/access_denied/);
    await expectSignedOut();
  });

  test('a callback with the wrong iss is refused', async () => {
    const redirect = await startLogin();
    redirect.searchParams.set('iss', 'http://127.0.0.1:1/evil');
    const answer = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: json
    });
    expect(answer.status).toBe(400);
    await expectSignedOut();
  });
});
