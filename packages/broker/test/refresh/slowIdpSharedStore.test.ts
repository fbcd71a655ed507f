/**
 * A slow IdP and two brokers sharing one file store (issue 11, defect 1, across brokers): while one
 * broker's refresh is still out (its caller already answered 503 at the deadline), the store's lock
 * stays held, so the other broker cannot spend the refresh token being rotated; once the late answer
 * is stored, the other broker uses the token it brought, and the rotated refresh token after it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, expect, test } from '@jest/globals';

import { FileStore } from '../../src/stores/file.js';
import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

const TIMEOUT_MS = 800;
const LATE_MS = 2000;

let idp: IdP;
let dir: string;
let a: TestBroker;
let b: TestBroker;

/** A store on the shared files, with the lock timing the broker derives from its upstream timeout. */
async function fileStore(): Promise<FileStore> {
  const store = new FileStore({
    path: join(dir, 'grants.store'),
    keyFile: join(dir, 'store.key'),
    lock: { waitMs: 2 * TIMEOUT_MS + 5000, staleMs: 3 * TIMEOUT_MS + 10000 }
  });
  await store.open();
  return store;
}

beforeEach(async () => {
  idp = await startIdP();
  dir = await mkdtemp(join(tmpdir(), 'tb-slow-shared-'));
  const config = { upstream_timeout_ms: TIMEOUT_MS };
  a = await startBroker(idp, { config, store: await fileStore() });
  b = await startBroker(idp, { config, store: await fileStore() });
  expect((await a.login()).status).toBe(200);
  idp.refreshes = 0;
  idp.refreshFailures = 0;
});
afterEach(async () => {
  await a.close();
  await b.close();
  await idp.close();
  await rm(dir, { recursive: true, force: true });
});

const token = (broker: TestBroker): Promise<Answer> =>
  broker.request('POST', '/api/v1/providers/demo/token', { body: {} });

test("while one broker's late refresh is out, the other neither spends the old refresh token nor loses the sign-in", async () => {
  a.advance(200);
  b.advance(200); // both see the sign-in's token as expired
  idp.lateMs = LATE_MS;

  const [fromA, fromB] = await Promise.all([token(a), token(b)]);
  expect([fromA.status, fromB.status]).toEqual([503, 503]);

  await sleep(LATE_MS + 500); // A's late answer arrives, is stored, and A releases the lock
  idp.lateMs = 0;
  a.advance(10);
  b.advance(10); // past any backoff

  // B uses what A stored (no IdP call); before the fix it refreshed with the consumed refresh token
  // and the IdP ended the grant (401 login_required).
  const nextB = await token(b);
  expect([nextB.status, nextB.json.error]).toEqual([200, undefined]);
  const nextA = await token(a);
  expect([nextA.status, nextA.json.error]).toEqual([200, undefined]);
  expect(nextB.json.access_token).toBe(nextA.json.access_token);
  expect(idp.refreshes).toBe(1);

  // The rotated refresh token works for the next refresh, from either broker.
  b.advance(200);
  const later = await token(b);
  expect([later.status, later.json.error]).toEqual([200, undefined]);
  expect(idp.refreshes).toBe(2);
  expect(idp.refreshFailures).toBe(0);
}, 20000);
