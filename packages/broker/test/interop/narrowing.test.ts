/**
 * A narrowed token request (fewer scopes than the sign-in) against every server in {@link SERVERS}:
 * with the narrowing method that suits the server, later default requests still get every scope
 * (issue 11, defect 5). Django OAuth Toolkit binds a rotated refresh token to the narrowed scope
 * (against RFC 6749 §6) and has no token exchange, so only `refuse` keeps its grant whole
 * (`dotNarrowing.test.ts` shows what `refresh` does there).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

const TTL = 30;

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker;

  beforeAll(async () => {
    server = await start();
    await server.setAccessTokenTtl(TTL);
    broker = await startBroker(server.idp, {
      provider: { ...server.userProvider, narrowing: server.safeNarrowing },
      config: { refresh_margin_seconds: 10 }
    });
    expect((await broker.login()).status).toBe(200);
  }, 60000);
  afterAll(async () => {
    await broker?.close();
    await server?.close();
  });

  test("a narrowed request never reduces what later default requests get, with the server's method", async () => {
    const token = (body: Record<string, unknown> = {}) =>
      broker.request('POST', '/api/v1/providers/demo/token', { body });
    const full = (await token()).json.scopes as string[];
    expect(full).toEqual(expect.arrayContaining(['openid', 'email', 'demo:read', 'demo:write']));

    const narrow = await token({ scopes: ['demo:read'] });
    if (server.safeNarrowing === 'refuse') {
      expect([narrow.status, narrow.json.error]).toEqual([403, 'scope_not_allowed']);
    } else {
      expect([narrow.status, narrow.json.scopes]).toEqual([200, ['demo:read']]);
    }

    broker.advance(TTL + 1); // the next default request refreshes with the grant's refresh token
    const later = await token();
    expect(later.status).toBe(200);
    expect([...later.json.scopes].sort()).toEqual([...full].sort());
    const email = await token({ scopes: ['openid', 'email'] });
    expect(email.status).toBe(server.safeNarrowing === 'refuse' ? 403 : 200);
    const list = await broker.request('GET', '/api/v1/providers');
    expect([...list.json.providers[0].scopes].sort()).toEqual([...full].sort());
  });
});
