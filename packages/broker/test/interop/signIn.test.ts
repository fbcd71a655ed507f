/**
 * Sign-in, refresh and the rotation race through the broker's HTTP API, against every server in
 * {@link SERVERS}: oidc-provider and Django OAuth Toolkit (PKCE required, rotating refresh tokens with
 * reuse protection, 30 s access tokens, as the reporter ran it).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { openStore, type StoreConfig } from '../../src/stores/index.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

/** The reporter's access token lifetime. */
const TTL = 30;

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker | undefined;

  const token = (body: Record<string, unknown> = {}) =>
    broker!.request('POST', '/api/v1/providers/demo/token', { body });
  const storedRefreshToken = async (): Promise<string | null | undefined> =>
    (await broker!.context.store.get('demo'))?.refreshToken;

  beforeAll(async () => {
    server = await start();
  }, 60000);
  beforeEach(async () => {
    await broker?.close();
    await server.setAccessTokenTtl(TTL);
    // An explicit margin: what the default margin does with short tokens is defect 6's own test.
    broker = await startBroker(server.idp, {
      provider: server.userProvider,
      config: { refresh_margin_seconds: 10 }
    });
    await server.resetCounts();
  });
  afterAll(async () => {
    await broker?.close();
    await server?.close();
  });

  test('sign-in: authorization code with PKCE, then an access token the IdP accepts and no refresh token', async () => {
    const started = await broker!.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(started.status).toBe(200);
    const url = new URL(started.json.authorization_url);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const redirect = await server.idp.authorize(started.json.authorization_url);
    expect(redirect.searchParams.get('code')).toBeTruthy();
    const done = await broker!.request('GET', `/api/v1/callback${redirect.search}`, {
      headers: { accept: 'application/json' }
    });
    expect([done.status, done.json]).toEqual([200, { ok: true, provider: 'demo' }]);

    const list = await broker!.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      id: 'demo',
      signed_in: true,
      account: 'alice',
      needs_login: false
    });

    const answer = await token();
    expect(answer.status).toBe(200);
    expect(answer.json).not.toHaveProperty('refresh_token');
    expect(answer.json.scopes).toEqual(expect.arrayContaining(['openid', 'demo:read']));
    expect(answer.json.expires_in).toBeGreaterThan(TTL - 5);
    expect(answer.json.expires_in).toBeLessThanOrEqual(TTL);
    const userinfo = await server.userinfo(answer.json.access_token);
    expect(userinfo.status).toBe(200);
    expect(userinfo.json.preferred_username).toBe('alice');
    expect(await server.refreshCounts()).toEqual({ ok: 0, refused: 0 });
  });

  test('refresh: a token inside the margin is refreshed once, the rotated refresh token is kept and works', async () => {
    expect((await broker!.login()).status).toBe(200);
    const first = await token();
    expect((await token()).json.access_token).toBe(first.json.access_token);
    expect(await server.refreshCounts()).toEqual({ ok: 0, refused: 0 });
    const refreshBefore = await storedRefreshToken();

    broker!.advance(TTL - 5); // 5 s left: inside the 10 s margin
    const second = await token();
    expect(second.status).toBe(200);
    expect(second.json.access_token).not.toBe(first.json.access_token);
    expect(second.json.expires_in).toBeGreaterThan(TTL - 5);
    expect((await server.userinfo(second.json.access_token)).status).toBe(200);
    expect(await server.refreshCounts()).toEqual({ ok: 1, refused: 0 });
    const refreshAfter = await storedRefreshToken();
    expect(refreshAfter).toBeTruthy();
    expect(refreshAfter).not.toBe(refreshBefore);

    broker!.advance(TTL - 5);
    const third = await token();
    expect(third.status).toBe(200);
    expect(await server.refreshCounts()).toEqual({ ok: 2, refused: 0 });
  });

  test('rotation race: 50 callers after expiry share one upstream refresh and nobody is logged out', async () => {
    expect((await broker!.login()).status).toBe(200);
    const before = (await token()).json.access_token;
    for (let round = 1; round <= 3; round++) {
      broker!.advance(TTL + 1); // expired
      const answers = await Promise.all(Array.from({ length: 50 }, () => token()));
      expect(answers.map(a => a.status)).toEqual(Array(50).fill(200));
      const tokens = new Set(answers.map(a => a.json.access_token));
      expect(tokens.size).toBe(1);
      expect(tokens.has(before)).toBe(false);
      expect(await server.refreshCounts()).toEqual({ ok: round, refused: 0 });
      expect((await server.userinfo([...tokens][0])).status).toBe(200);
    }
    const list = await broker!.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({ signed_in: true, needs_login: false });
  });

  test('rotation race between two brokers on one file store: one upstream refresh, nobody logged out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-interop-store-'));
    const brokers: TestBroker[] = [];
    try {
      await chmod(dir, 0o700);
      const config: StoreConfig = {
        type: 'file',
        path: join(dir, 'grants.store'),
        key_file: join(dir, 'store.key')
      };
      for (let i = 0; i < 2; i++) {
        brokers.push(
          await startBroker(server.idp, {
            provider: server.userProvider,
            config: { refresh_margin_seconds: 10 },
            store: await openStore(config, { upstreamTimeoutMs: 2000 })
          })
        );
      }
      const [a, b] = brokers;
      expect((await a.login()).status).toBe(200);
      await server.resetCounts();
      a.advance(TTL + 1);
      b.advance(TTL + 1);
      const ask = (one: TestBroker) =>
        one.request('POST', '/api/v1/providers/demo/token', { body: {} });
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ask(i % 2 === 0 ? a : b))
      );
      expect(answers.map(x => [x.status, x.json.error])).toEqual(Array(40).fill([200, undefined]));
      expect(new Set(answers.map(x => x.json.access_token)).size).toBe(1);
      expect(await server.refreshCounts()).toEqual({ ok: 1, refused: 0 });
    } finally {
      await Promise.all(brokers.map(one => one.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
