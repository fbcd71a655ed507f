/**
 * Sign-out through the broker's HTTP API, against every server in {@link SERVERS}: the broker forgets
 * the grant and the IdP refuses the refresh token afterwards. Django OAuth Toolkit publishes its
 * revocation endpoint only in its RFC 8414 metadata (not in its OIDC discovery): issue 11, defect 4.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker | undefined;

  beforeAll(async () => {
    server = await start();
    await server.setAccessTokenTtl(30);
  }, 60000);
  beforeEach(async () => {
    await broker?.close();
    broker = await startBroker(server.idp, {
      provider: server.userProvider,
      config: { refresh_margin_seconds: 10 }
    });
  });
  afterAll(async () => {
    await broker?.close();
    await server?.close();
  });

  const signedInRefreshToken = async (): Promise<string> => {
    expect((await broker!.login()).status).toBe(200);
    expect(
      (await broker!.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);
    const refreshToken = (await broker!.context.store.get('demo'))?.refreshToken;
    expect(refreshToken).toBeTruthy();
    return refreshToken!;
  };

  test('sign-out revokes the refresh token at the IdP: the IdP refuses it afterwards', async () => {
    const refreshToken = await signedInRefreshToken();

    const out = await broker!.request('DELETE', '/api/v1/providers/demo/grant');
    // 204: signed out here and at the IdP (an answer with a body says the IdP was not reached).
    expect([out.status, out.text]).toEqual([204, '']);
    const after = await broker!.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect([after.status, after.json.error]).toEqual([401, 'login_required']);

    const replay = await server.redeemRefreshToken(refreshToken);
    expect([replay.status, replay.error]).toEqual([400, 'invalid_grant']);
  });

  test('sign-out after a rotation revokes the current refresh token, not the rotated-out one', async () => {
    await signedInRefreshToken();
    broker!.advance(31);
    expect(
      (await broker!.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
    ).toBe(200);
    const current = (await broker!.context.store.get('demo'))?.refreshToken;
    expect(current).toBeTruthy();

    expect((await broker!.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    const replay = await server.redeemRefreshToken(current!);
    expect([replay.status, replay.error]).toEqual([400, 'invalid_grant']);
  });
});
