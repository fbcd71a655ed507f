import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import {
  API_AUDIENCE,
  EXCHANGE_CLIENT,
  EXCHANGE_SECRET,
  OTHER_AUDIENCE,
  secretFile,
  startGrantsIdP,
  type GrantsIdP
} from '../fixtures/grantsIdp.js';

let idp: GrantsIdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startGrantsIdP();
  broker = await startBroker(idp, {
    providers: [
      {
        id: 'api',
        kind: 'oidc',
        issuer: idp.issuer,
        client_id: EXCHANGE_CLIENT,
        client_secret_file: await secretFile(EXCHANGE_SECRET),
        scopes: ['demo:read', 'demo:write'],
        token_exchange: { subject_provider: 'demo', audience: API_AUDIENCE, scopes: ['demo:read'] }
      }
    ]
  });
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

const exchanged = (body: Record<string, unknown> = {}) =>
  broker.request('POST', '/api/v1/providers/api/token', { body });

describe('token exchange (RFC 8693)', () => {
  test('without a sign-in to the subject provider: 401 login_required naming it', async () => {
    const answer = await exchanged();
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('login_required');
    expect(answer.json.error_description).toMatch(/'demo'/);
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[1]).toMatchObject({
      id: 'api',
      grant: 'token_exchange',
      signed_in: false
    });
  });

  test("the subject's token is exchanged for a narrowed one with the configured audience", async () => {
    expect((await broker.login('alice')).status).toBe(200);
    const subject = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    const answer = await exchanged();
    expect(answer.status).toBe(200);
    expect(answer.json.scopes).toEqual(['demo:read']);
    expect(answer.json.access_token).not.toBe(subject.json.access_token);
    expect(idp.exchanges.at(-1)).toMatchObject({
      subjectAccount: 'alice',
      scope: 'demo:read',
      audience: API_AUDIENCE,
      accessToken: answer.json.access_token
    });
    // Cached: no second exchange.
    expect((await exchanged()).json.access_token).toBe(answer.json.access_token);
    expect(idp.exchanges).toHaveLength(1);
  });

  test('a caller may ask another allowed scope; never an audience outside the allowed set', async () => {
    const write = await exchanged({ scopes: ['demo:write'] });
    expect(write.status).toBe(200);
    expect(write.json.scopes).toEqual(['demo:write']);
    const other = await exchanged({ audience: OTHER_AUDIENCE });
    expect(other.status).toBe(403);
    expect(other.json.error).toBe('scope_not_allowed');
  });

  test('after the subject signs out, no exchanged token is served from the cache', async () => {
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    const answer = await exchanged();
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('login_required');
  });

  test('a new sign-in as another account gets its own exchanged token', async () => {
    idp.nextAccount = 'bob';
    try {
      expect((await broker.login('alice')).status).toBe(200);
    } finally {
      idp.nextAccount = 'alice';
    }
    const answer = await exchanged();
    expect(answer.status).toBe(200);
    expect(idp.exchanges.at(-1)).toMatchObject({
      subjectAccount: 'bob',
      accessToken: answer.json.access_token
    });
  });
});
