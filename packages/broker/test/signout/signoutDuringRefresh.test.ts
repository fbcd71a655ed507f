/**
 * Regression (issue 11, defect 2): a sign-out while a refresh is in flight (in this broker, or in
 * another one on the same file store) revoked the refresh token the refresh was rotating away, and
 * left the rotated one live at the IdP. The IdP here ends only the token it is asked to revoke (as
 * Django OAuth Toolkit does), so a wrong token shows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { FileStore } from '../../src/stores/file.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';
import { gate, lastRefreshToken, redeem, revokeOnlyTheTokenAsked } from '../fixtures/idpChecks.js';

let idp: IdP;
let broker: TestBroker;
/** Holds back the IdP's answer to a refresh (the IdP has already rotated) until opened. */
let slow: { answered: ReturnType<typeof gate>; release: ReturnType<typeof gate> } | undefined;

beforeEach(async () => {
  idp = await startIdP({ configure: revokeOnlyTheTokenAsked });
  broker = await startBroker(idp, {
    wrapFetch: inner => async (input, init) => {
      const response = await inner(input, init);
      const held = slow;
      if (held !== undefined && String(init?.body).includes('grant_type=refresh_token')) {
        held.answered.open();
        await held.release.wait;
      }
      return response;
    }
  });
  expect((await broker.login()).status).toBe(200);
});
afterEach(async () => {
  slow?.release.open();
  await broker.close();
  await idp.close();
});

describe('sign-out during a refresh', () => {
  test('revokes the rotated refresh token, not the one rotated away', async () => {
    const first = lastRefreshToken(broker);
    broker.advance(3600); // the access token expired: the next request refreshes
    slow = { answered: gate(), release: gate() };
    const asked = broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    await slow.answered.wait; // the IdP rotated; its answer is on the way
    const rotated = lastRefreshToken(broker);
    expect(rotated).not.toBe(first);

    const signOut = broker.request('DELETE', '/api/v1/providers/demo/grant');
    await new Promise(resolve => setTimeout(resolve, 200)); // the sign-out is under way
    slow.release.open();
    expect((await signOut).status).toBe(204);
    expect((await asked).status).toBe(401);

    // The token the IdP would still honour is the rotated one: it must be dead there.
    expect(await redeem(idp, rotated)).toEqual({ status: 400, error: 'invalid_grant' });
    expect(await broker.context.store.get('demo')).toBeUndefined();
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.json.error).toBe('login_required');
  });
});

describe('sign-out during a refresh in another broker on the same file store', () => {
  let dir: string;
  let other: TestBroker;

  /** A store on the shared files, with the lock timing the broker derives from its upstream timeout. */
  async function fileStore(): Promise<FileStore> {
    const store = new FileStore({
      path: join(dir, 'grants.store'),
      keyFile: join(dir, 'store.key'),
      lock: { waitMs: 2 * 2000 + 5000, staleMs: 3 * 2000 + 10000 }
    });
    await store.open();
    return store;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-signout-shared-'));
    await broker.close();
    // `broker` refreshes slowly (its IdP answers held back); `other` signs out.
    broker = await startBroker(idp, {
      store: await fileStore(),
      wrapFetch: inner => async (input, init) => {
        const response = await inner(input, init);
        const held = slow;
        if (held !== undefined && String(init?.body).includes('grant_type=refresh_token')) {
          held.answered.open();
          await held.release.wait;
        }
        return response;
      }
    });
    other = await startBroker(idp, { store: await fileStore() });
    expect((await broker.login()).status).toBe(200);
  });
  afterEach(async () => {
    slow?.release.open();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the other broker revokes the rotated refresh token', async () => {
    broker.advance(3600);
    slow = { answered: gate(), release: gate() };
    const asked = broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    await slow.answered.wait;
    const rotated = lastRefreshToken(broker);

    const signOut = other.request('DELETE', '/api/v1/providers/demo/grant');
    await new Promise(resolve => setTimeout(resolve, 200));
    slow.release.open();
    expect((await signOut).status).toBe(204);
    expect((await asked).status).toBe(200); // asked before the sign-out, answered by the IdP

    expect(await redeem(idp, rotated)).toEqual({ status: 400, error: 'invalid_grant' });
    expect(await other.context.store.get('demo')).toBeUndefined();
    expect(await broker.context.store.get('demo')).toBeUndefined();
  });
});
