/**
 * A service account (client credentials, secret sent as HTTP Basic) through the broker's HTTP API,
 * against every server in {@link SERVERS}.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

const TTL = 30;
const sorted = (scope: string | undefined): string[] => (scope ?? '').split(' ').sort();

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker;

  const token = (body: Record<string, unknown> = {}) =>
    broker.request('POST', '/api/v1/providers/demo/token', { body });

  beforeAll(async () => {
    server = await start();
    await server.setAccessTokenTtl(TTL);
    broker = await startBroker(server.idp, {
      provider: await server.serviceProvider(),
      config: { refresh_margin_seconds: 10 }
    });
  }, 60000);
  afterAll(async () => {
    await broker?.close();
    await server?.close();
  });

  test('no sign-in: a token on demand with every allowed scope, cached, then a new one after expiry', async () => {
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      grant: 'client_credentials',
      signed_in: true,
      needs_login: false
    });
    const first = await token();
    expect(first.status).toBe(200);
    expect(first.json).not.toHaveProperty('refresh_token');
    expect([...first.json.scopes].sort()).toEqual(['demo:read', 'demo:write']);
    expect(sorted(await server.serviceTokenScope(first.json.access_token))).toEqual([
      'demo:read',
      'demo:write'
    ]);
    expect((await token()).json.access_token).toBe(first.json.access_token);
    expect(broker.upstreamCalls.some(url => url.includes('secret-for-tests'))).toBe(false);

    // (oidc-provider gives service tokens their own lifetime, 10 minutes.)
    broker.advance(first.json.expires_in + 1);
    const later = await token();
    expect(later.status).toBe(200);
    expect(later.json.access_token).not.toBe(first.json.access_token);
    expect(await server.serviceTokenScope(later.json.access_token)).toBeDefined();
  });

  test('a subset of the scopes gives a token the IdP recorded with only that scope', async () => {
    const narrow = await token({ scopes: ['demo:read'] });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scopes).toEqual(['demo:read']);
    expect(await server.serviceTokenScope(narrow.json.access_token)).toBe('demo:read');
    // The full set is still there for the next default request.
    const full = await token();
    expect([...full.json.scopes].sort()).toEqual(['demo:read', 'demo:write']);
  });
});
