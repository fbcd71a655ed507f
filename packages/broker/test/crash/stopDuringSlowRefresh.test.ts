/**
 * A broker stopped (SIGTERM, as the Jupyter server stops it) while a slow IdP's refresh is still out,
 * its caller already answered 503 at the deadline (issue 11, defect 1): the broker lets the refresh
 * finish and store the rotated refresh token before it exits, within its stop grace, so the next
 * broker on the store does not spend the consumed refresh token (oidc-provider would end the grant).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { startIdP, type IdP } from '../fixtures/idp.js';
import {
  type BrokerProcess,
  sharedStore,
  startBrokerProcess,
  stopBrokerProcess
} from './brokerProcess.js';

const TIMEOUT_MS = 500;
const LATE_MS = 1500; // longer than the deadline, shorter than the broker's 3 s stop grace

let base: string;
let idp: IdP;
const brokers: BrokerProcess[] = [];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-stop-'));
  await chmod(base, 0o700);
  idp = await startIdP();
});
afterAll(async () => {
  await Promise.all(brokers.map(stopBrokerProcess));
  await idp.close();
  await rm(base, { recursive: true, force: true });
});

test('stopped while a late refresh is out: the rotation is stored before the broker exits, the next broker refreshes fine', async () => {
  const store = await sharedStore(base);
  const first = await startBrokerProcess(base, idp, store, TIMEOUT_MS);
  brokers.push(first);
  idp.accessTokenTtl = 1; // the sign-in's token cannot meet the min_ttl below: a refresh is due
  expect((await first.login(idp)).status).toBe(200);
  idp.accessTokenTtl = 600;
  idp.refreshes = 0;
  idp.refreshFailures = 0;

  idp.lateMs = LATE_MS;
  // More than the sign-in's token has left: a refresh, answered late.
  const slow = await first.request('POST', '/api/v1/providers/demo/token', { min_ttl: 60 });
  expect(slow.status).toBe(503);
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  idp.lateMs = 0;
  expect(idp.refreshes).toBe(1); // the IdP rotated the refresh token

  const next = await startBrokerProcess(base, idp, store, TIMEOUT_MS);
  brokers.push(next);
  // More than the late answer's token has left: a refresh again, which must use the rotated refresh
  // token (before: the rotation was lost with the stopped broker, and this was 401 login_required).
  await sleep(1100); // the late answer's 600 s token now has less than 600 s left
  const answer = await next.request('POST', '/api/v1/providers/demo/token', { min_ttl: 600 });
  expect([answer.status, answer.json.error]).toEqual([200, undefined]);
  expect(idp.refreshes).toBe(2);
  expect(idp.refreshFailures).toBe(0);
}, 30000);
