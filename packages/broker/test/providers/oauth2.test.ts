import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

// A plain OAuth 2.0 server: the same oidc-provider, but its discovery documents answer 404, so the
// broker can only use the endpoints it is configured with.
let idp: IdP;
const brokers: TestBroker[] = [];

beforeAll(async () => {
  idp = await startIdP({ noDiscovery: true });
});
afterAll(async () => {
  for (const b of brokers) await b.close();
  await idp.close();
});

function oauth2(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'oauth2',
    issuer: undefined,
    authorization_endpoint: `${idp.issuer}/auth`,
    token_endpoint: `${idp.issuer}/token`,
    userinfo_endpoint: `${idp.issuer}/me`,
    revocation_endpoint: `${idp.issuer}/token/revocation`,
    ...fields
  };
}

async function broker(fields: Record<string, unknown>): Promise<TestBroker> {
  const b = await startBroker(idp, { provider: oauth2(fields) });
  brokers.push(b);
  return b;
}

async function callbackQuery(b: TestBroker): Promise<URLSearchParams> {
  const started = await b.request('POST', '/api/v1/providers/demo/login', { body: {} });
  expect(started.status).toBe(200);
  const url = new URL(started.json.authorization_url);
  expect(url.origin + url.pathname).toBe(`${idp.issuer}/auth`);
  // OAuth 2.0, not OpenID Connect: no nonce, but PKCE and state.
  expect(url.searchParams.has('nonce')).toBe(false);
  expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  return (await idp.authorize(started.json.authorization_url)).searchParams;
}

describe('kind oauth2: explicit endpoints, no discovery', () => {
  test('signs in and hands out tokens without ever asking for a discovery document', async () => {
    const b = await broker({
      issuer: idp.issuer,
      authorization_response_iss_parameter_supported: true
    });
    const query = await callbackQuery(b);
    expect(query.get('iss')).toBe(idp.issuer);
    const done = await b.request('GET', `/api/v1/callback?${query}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(200);
    const token = await b.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.status).toBe(200);
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      kind: 'oauth2',
      grant: 'authorization_code',
      signed_in: true,
      account: 'alice'
    });
    expect(b.upstreamCalls.some(u => u.includes('/.well-known/'))).toBe(false);
    // The refresh token works at the configured token endpoint.
    b.advance(200);
    expect((await b.request('POST', '/api/v1/providers/demo/token', { body: {} })).status).toBe(
      200
    );
  });

  test('mix-up: a callback whose iss names another issuer is refused and nothing is stored', async () => {
    const b = await broker({
      issuer: 'https://other-idp.example.org',
      authorization_response_iss_parameter_supported: true
    });
    const query = await callbackQuery(b);
    const done = await b.request('GET', `/api/v1/callback?${query}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(400);
    expect(done.json.error).toBe('invalid_request');
    expect(await b.context.store.get('demo')).toBeUndefined();
    expect(b.upstreamCalls.some(u => u.endsWith('/token'))).toBe(false);
  });

  test('an advertised iss parameter that is missing from the callback is refused', async () => {
    const b = await broker({
      issuer: idp.issuer,
      authorization_response_iss_parameter_supported: true
    });
    const query = await callbackQuery(b);
    query.delete('iss');
    const done = await b.request('GET', `/api/v1/callback?${query}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(400);
    expect(await b.context.store.get('demo')).toBeUndefined();
  });

  test('without a configured issuer, a callback that names one is refused (fail closed)', async () => {
    const b = await broker({});
    const query = await callbackQuery(b);
    const done = await b.request('GET', `/api/v1/callback?${query}`, {
      headers: { accept: 'application/json' }
    });
    expect(done.status).toBe(400);
    // The answer says why and what to set, not "did not pass validation".
    expect(done.json.error_description).toMatch(/no configured issuer.*set the provider's issuer/);
    expect(await b.context.store.get('demo')).toBeUndefined();
  });

  test('the device flow needs a device_authorization_endpoint', async () => {
    const b = await broker({ issuer: idp.issuer });
    const answer = await b.request('POST', '/api/v1/providers/demo/login', {
      body: { method: 'device' }
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
    expect(answer.json.error_description).toMatch(/device flow/);
  });
});
