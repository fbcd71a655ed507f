import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startFakeCognito, type FakeCognito } from '../fixtures/fakeCognito.js';
import { REDIRECT_URI, type IdP } from '../fixtures/idp.js';

// Cognito cannot run here: a fake that speaks its wire format (see fixtures/fakeCognito.ts).
let cognito: FakeCognito;
let broker: TestBroker;

beforeAll(async () => {
  cognito = await startFakeCognito(REDIRECT_URI);
  broker = await startBroker({ issuer: 'unused' } as unknown as IdP, {
    provider: {
      kind: 'cognito',
      issuer: undefined,
      domain: cognito.domain,
      client_id: cognito.clientId,
      scopes: ['openid', 'email', 'profile']
    }
  });
  const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
  expect(new URL(started.json.authorization_url).pathname).toBe('/oauth2/authorize');
  const redirect = await cognito.authorize(started.json.authorization_url);
  const done = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
    headers: { accept: 'application/json' }
  });
  expect(done.status).toBe(200);
});
afterAll(async () => {
  await broker.close();
  await cognito.close();
});

const token = () => broker.request('POST', '/api/v1/providers/demo/token', { body: {} });

describe('kind cognito (fake Cognito)', () => {
  test('the account comes from /oauth2/userInfo; the scopes asked stand when none are echoed', async () => {
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      kind: 'cognito',
      signed_in: true,
      account: 'alice@example.org'
    });
    const answer = await token();
    expect(answer.status).toBe(200);
    expect(answer.json.scopes).toEqual(['openid', 'email', 'profile']);
  });

  test('a refresh without a new refresh token keeps the old one, and it keeps working', async () => {
    const before = (await broker.context.store.get('demo'))?.refreshToken;
    expect(before).toBeTruthy();
    const first = await token();
    broker.advance(3600);
    const second = await token();
    expect(second.status).toBe(200);
    expect(second.json.access_token).not.toBe(first.json.access_token);
    expect(cognito.refreshes).toBe(1);
    expect((await broker.context.store.get('demo'))?.refreshToken).toBe(before);
    broker.advance(3600);
    expect((await token()).status).toBe(200);
    expect(cognito.refreshes).toBe(2);
    expect((await broker.context.store.get('demo'))?.refreshToken).toBe(before);
  });

  test('sign-out revokes at /oauth2/revoke with the token and client_id in the body', async () => {
    const refresh = (await broker.context.store.get('demo'))?.refreshToken;
    const answer = await broker.request('DELETE', '/api/v1/providers/demo/grant');
    expect(answer.status).toBe(204);
    const revoked = cognito.revocations.at(-1);
    expect(revoked?.get('token')).toBe(refresh);
    expect(revoked?.get('client_id')).toBe(cognito.clientId);
    expect((await token()).json.error).toBe('login_required');
  });
});
