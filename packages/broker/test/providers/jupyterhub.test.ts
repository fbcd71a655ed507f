import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import type { IdP } from '../fixtures/idp.js';
import { HUB_CLIENT_ID, startHub, type Hub } from '../fixtures/jupyterhub.js';

// A REAL JupyterHub (.venv/bin/jupyterhub, from requirements-dev.txt) acting as the OAuth provider.
const SCOPES = ['read:users:name!user', 'access:services'];

let hub: Hub;
let broker: TestBroker;

beforeAll(async () => {
  hub = await startHub(SCOPES);
  broker = await startBroker({ issuer: 'unused' } as unknown as IdP, {
    provider: {
      kind: 'jupyterhub',
      issuer: undefined,
      hub_url: hub.hubUrl,
      client_id: HUB_CLIENT_ID,
      client_secret_file: hub.secretFile,
      scopes: SCOPES
    }
  });
}, 90000);
afterAll(async () => {
  await broker?.close();
  await hub?.close();
});

describe('kind jupyterhub against a real JupyterHub', () => {
  test('sign-in, identity from /hub/api/user, secret only in the token request body', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(started.status).toBe(200);
    const url = new URL(started.json.authorization_url);
    expect(url.pathname).toBe('/hub/api/oauth2/authorize');
    expect(url.searchParams.has('nonce')).toBe(false);
    const redirect = await hub.authorize(started.json.authorization_url, 'alice');
    const done = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(200);

    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      kind: 'jupyterhub',
      signed_in: true,
      account: 'alice'
    });
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.status).toBe(200);
    // The token works at the hub's REST API, as alice.
    const me = await fetch(`${hub.hubUrl}hub/api/user`, {
      headers: { authorization: `Bearer ${token.json.access_token}` }
    });
    expect(me.status).toBe(200);
    expect((await me.json()).name).toBe('alice');
    // client_secret_post: the secret went in the token request's body, never in a header or URL.
    const tokenCall = broker.upstreamCalls.find(u => u.endsWith('/hub/api/oauth2/token'));
    expect(tokenCall).toBeDefined();
    expect(broker.upstreamBodies.some(b => b.includes('client_secret='))).toBe(true);
    expect(broker.upstreamCalls.some(u => u.includes('secret'))).toBe(false);
  });

  test('no refresh token: once the access token expires the grant needs a login', async () => {
    const grant = await broker.context.store.get('demo');
    expect(grant?.refreshToken).toBeNull();
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    broker.advance(token.json.expires_in + 1);
    const after = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(after.status).toBe(401);
    expect(after.json.error).toBe('login_required');
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0].needs_login).toBe(true);
  });
});
