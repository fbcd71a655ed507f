import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

// Under JupyterHub the IdP knows one redirect URI for every server (/hub/user-redirect/…/callback);
// the hub's user_redirect_hook finds the named server that started a login in its state:
// `<base64url(server name)>.<random>` (jupyter_token_broker/hub/redirect.py reads it).
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

/** The name the hub's hook reads from a state, as redirect.py decodes it. */
function serverNameOf(state: string): string {
  if (!state.includes('.')) return '';
  return Buffer.from(state.split('.', 1)[0], 'base64url').toString('utf8');
}

async function login(serverName: string | undefined): Promise<URL> {
  const started = await broker.request('POST', '/api/v1/providers/demo/login', {
    body: {},
    headers: serverName === undefined ? {} : { 'x-broker-server-name': serverName }
  });
  expect(started.status).toBe(200);
  return new URL(started.json.authorization_url);
}

describe('login state names the JupyterHub server', () => {
  test("a named server's state starts with its name, and its callback completes the sign-in", async () => {
    const url = await login(encodeURIComponent('lab ü/2'));
    const state = url.searchParams.get('state') as string;
    expect(serverNameOf(state)).toBe('lab ü/2');
    expect(state.split('.')[1]).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const redirect = await idp.authorize(url.href);
    expect(redirect.searchParams.get('state')).toBe(state);
    const done = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(200);
  });

  test("the default server's state is random only", async () => {
    for (const header of [undefined, '']) {
      const state = (await login(header)).searchParams.get('state') as string;
      expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(serverNameOf(state)).toBe('');
    }
  });

  test('a server name that is not one is refused', async () => {
    const answer = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: {},
      headers: { 'x-broker-server-name': '%E0%A4%A' }
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });
});
