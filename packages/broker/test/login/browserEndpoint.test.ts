import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { ConfigError, validateConfig } from '../../src/config.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { CLIENT_ID, SCOPES, startIdP, type IdP } from '../fixtures/idp.js';

/** The Jupyter server as the browser reaches it (Binder: only this origin reaches the browser). */
const SERVER_URL = 'https://binder.example.org/user/ada-1x2y/';

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
  broker = await startBroker(idp, {
    provider: { browser_authorization_endpoint: 'proxy/absolute/9400/auth' }
  });
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

describe('browser_authorization_endpoint: an IdP the browser reaches through the Jupyter server', () => {
  test('the popup opens under the server URL; the broker still redeems the code at the IdP itself', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: {},
      headers: { 'x-broker-server-url': SERVER_URL }
    });
    expect(started.status).toBe(200);
    const url = new URL(started.json.authorization_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${SERVER_URL}proxy/absolute/9400/auth`);
    expect(url.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('state')).toBeTruthy();

    // What the server's proxy does: the same request at the IdP's own authorization endpoint.
    const atIdp = new URL(`${idp.issuer}/auth`);
    atIdp.search = url.search;
    const redirect = await idp.authorize(atIdp.href);
    const done = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.json).toEqual({ ok: true, provider: 'demo' });
    expect(broker.upstreamCalls.some(call => call.startsWith(`${idp.issuer}/token`))).toBe(true);
  });

  test('a relative endpoint without X-Broker-Server-Url is a clear 400, not a broken URL', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(started.status).toBe(400);
    expect(started.json.error).toBe('invalid_request');
    expect(started.json.error_description).toMatch(/X-Broker-Server-Url/);
  });
});

describe('browser_authorization_endpoint in the config', () => {
  const provider = (value: unknown): Record<string, unknown> => ({
    id: 'demo',
    issuer: 'http://127.0.0.1:9400',
    client_id: CLIENT_ID,
    scopes: SCOPES,
    browser_authorization_endpoint: value
  });

  test('takes a relative path or an absolute https URL', () => {
    for (const value of ['proxy/absolute/9400/auth', 'https://sso.example.org/auth']) {
      const config = validateConfig({ providers: [provider(value)] });
      expect(config.providers[0].browser_authorization_endpoint).toBe(value);
    }
  });

  test.each([
    ['/proxy/9400/auth', /relative/],
    ['../elsewhere/auth', /relative/],
    ['proxy/9400/auth?x=1', /query/],
    ['http://idp.example.org/auth', /https/],
    [42, /URL or a path/]
  ])('refuses %p, naming the key', (value, message) => {
    let error: unknown;
    try {
      validateConfig({ providers: [provider(value)] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(/browser_authorization_endpoint/);
    expect(String((error as Error).message)).toMatch(message);
  });
});
