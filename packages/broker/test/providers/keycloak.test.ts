import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

// Keycloak serves each realm under /realms/<name>; this oidc-provider does the same, rotating
// refresh tokens on every use as Keycloak does with "Revoke Refresh Token" on.
let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP({ pathPrefix: '/realms/test' });
  broker = await startBroker(idp, {
    provider: { kind: 'keycloak', issuer: undefined, realm_url: idp.issuer }
  });
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

describe('kind keycloak: realm URL preset', () => {
  test('discovers at the realm, signs in with offline_access, and stores every rotation', async () => {
    expect(idp.issuer).toMatch(/\/realms\/test$/);
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(new URL(started.json.authorization_url).searchParams.get('scope')).toContain(
      'offline_access'
    );
    expect((await broker.login()).status).toBe(200);
    expect(broker.upstreamCalls[0]).toBe(`${idp.issuer}/.well-known/openid-configuration`);
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      kind: 'keycloak',
      signed_in: true,
      account: 'alice'
    });

    const first = (await broker.context.store.get('demo'))?.refreshToken;
    broker.advance(200);
    expect(
      (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);
    const second = (await broker.context.store.get('demo'))?.refreshToken;
    expect(second).not.toBe(first);
    broker.advance(200);
    expect(
      (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);
    expect((await broker.context.store.get('demo'))?.refreshToken).not.toBe(second);
    expect(idp.refreshFailures).toBe(0);
  });
});
