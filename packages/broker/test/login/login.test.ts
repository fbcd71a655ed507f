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

describe('sign-in with authorization code + PKCE', () => {
  test('login, callback, then a token without any refresh token in it', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(started.status).toBe(200);
    expect(started.headers['cache-control']).toBe('no-store');
    const url = new URL(started.json.authorization_url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBeTruthy();
    expect(url.searchParams.get('nonce')).toBeTruthy();
    expect(url.searchParams.get('client_id')).toBe('test-client');
    expect(started.json.expires_at).toBeGreaterThan(Date.now() / 1000);

    const redirect = await idp.authorize(started.json.authorization_url);
    const done = await broker.request('GET', `/api/v1/callback${redirect.search}`);
    expect(done.status).toBe(200);
    expect(done.headers['content-type']).toMatch(/text\/html/);
    expect(done.headers['cache-control']).toBe('no-store');
    expect(done.headers['referrer-policy']).toBe('no-referrer');
    expect(done.headers['content-security-policy']).toMatch(/script-src 'sha256-/);
    expect(done.text).toContain('"source":"jupyter-token-broker"');
    expect(done.text).toContain('"ok":true');

    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      id: 'demo',
      title: 'Demo IdP',
      kind: 'oidc',
      signed_in: true,
      account: 'alice',
      needs_login: false
    });
    expect(list.json.providers[0].expires_at).toBeGreaterThan(Date.now() / 1000);

    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.status).toBe(200);
    expect(token.headers['cache-control']).toBe('no-store');
    expect(token.json).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_at: expect.any(Number),
      expires_in: expect.any(Number),
      scopes: expect.arrayContaining(['openid', 'demo:read']),
      provider: 'demo'
    });
    expect(token.json).not.toHaveProperty('refresh_token');
    expect(token.json.expires_in).toBeGreaterThanOrEqual(30);

    // The access token works at the IdP.
    const userinfo = await fetch(`${idp.issuer}/me`, {
      headers: { authorization: `Bearer ${token.json.access_token}` }
    });
    expect(userinfo.status).toBe(200);
  });

  test('JSON callback answer when only JSON is accepted', async () => {
    const done = await broker.login('alice');
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ ok: true, provider: 'demo' });
  });
});
