/**
 * When the IdP ends the grant (an admin's revocation, or its refresh token reuse detection), against
 * every server in {@link SERVERS}: the broker says `login_required` and asks for a sign-in, never a
 * 5xx, and a new sign-in works.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

const TTL = 30;

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker | undefined;

  const token = () => broker!.request('POST', '/api/v1/providers/demo/token', { body: {} });
  const expectLoginRequired = async (): Promise<void> => {
    const answer = await token();
    expect([answer.status, answer.json.error]).toEqual([401, 'login_required']);
    const list = await broker!.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({ signed_in: false, needs_login: true });
    // A new sign-in works at once.
    expect((await broker!.login()).status).toBe(200);
    expect((await token()).status).toBe(200);
  };

  beforeAll(async () => {
    server = await start();
    await server.setAccessTokenTtl(TTL);
  }, 60000);
  beforeEach(async () => {
    await broker?.close();
    broker = await startBroker(server.idp, {
      provider: server.userProvider,
      config: { refresh_margin_seconds: 10 }
    });
    expect((await broker.login()).status).toBe(200);
    expect((await token()).status).toBe(200);
  });
  afterAll(async () => {
    await broker?.close();
    await server?.close();
  });

  test('an admin revoked the grant at the IdP: the next refresh asks for a sign-in', async () => {
    await server.revokeAlice();
    broker!.advance(TTL + 1);
    await expectLoginRequired();
  });

  test('a rotated-out refresh token replayed at the IdP (a stolen copy)', async () => {
    const stolen = (await broker!.context.store.get('demo'))?.refreshToken;
    broker!.advance(TTL + 1);
    expect((await token()).status).toBe(200); // rotates
    const replay = await server.redeemRefreshToken(stolen!);
    expect([replay.status, replay.error]).toEqual([400, 'invalid_grant']);
    broker!.advance(TTL + 1);
    // Both servers detect the reuse and end the whole grant, the broker's current token with it.
    await expectLoginRequired();
  });
});
