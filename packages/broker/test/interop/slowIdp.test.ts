/**
 * A slow IdP must not log the user out (issue 11, defect 1), against every server in {@link SERVERS}:
 * the server processes a refresh at once (rotates the refresh token) but answers after the broker's
 * `upstream_timeout_ms`. Both end the whole grant when the rotated-out refresh token comes back, so
 * the late answer's refresh token must be stored and the old one never sent again.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { SERVERS, type InteropServer } from './servers.js';

const TTL = 30;
const TIMEOUT_MS = 800;
const LATE_MS = 2000;

describe.each(SERVERS)('%s', (_name, start) => {
  let server: InteropServer;
  let broker: TestBroker;

  const token = () => broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
  const storedRefreshToken = async (): Promise<string | null | undefined> =>
    (await broker.context.store.get('demo'))?.refreshToken;

  beforeAll(async () => {
    server = await start();
    await server.setAccessTokenTtl(TTL);
    broker = await startBroker(server.idp, {
      provider: server.userProvider,
      config: { upstream_timeout_ms: TIMEOUT_MS, refresh_margin_seconds: 10 }
    });
    expect((await broker.login()).status).toBe(200);
  }, 60000);
  afterAll(async () => {
    await server?.setRefreshLateMs(0);
    await broker?.close();
    await server?.close();
  });

  test('a refresh answered after the deadline: 503 at the deadline, the late rotation is kept, nobody is logged out', async () => {
    await server.resetCounts();
    const before = await storedRefreshToken();
    broker.advance(TTL + 1);
    await server.setRefreshLateMs(LATE_MS);

    const started = Date.now();
    const slow = await token();
    expect([slow.status, slow.json.error]).toEqual([503, 'upstream_unavailable']);
    expect(Date.now() - started).toBeLessThan(LATE_MS);

    await sleep(LATE_MS + 500); // the late answer arrives and is stored
    await server.setRefreshLateMs(0);
    broker.advance(10); // past any backoff
    // On a loaded machine the late answer may still be on its way: 503 meanwhile, never a logout.
    let next = await token();
    for (let waited = 0; next.status === 503 && waited < 8000; waited += 500) {
      await sleep(500);
      broker.advance(10);
      next = await token();
    }
    expect([next.status, next.json.error]).toEqual([200, undefined]);
    expect(await storedRefreshToken()).not.toBe(before);

    broker.advance(TTL + 1);
    expect((await token()).status).toBe(200);
    expect((await server.refreshCounts()).refused).toBe(0);
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({ signed_in: true, needs_login: false });
  });
});
