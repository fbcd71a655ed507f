/**
 * kill -9 of a broker in the middle of a refresh, then a restart on the same file store: the store
 * still opens and authenticates, and the user gets either a working grant or a clean 401
 * `login_required` — never a corrupt store, never a 500.
 *
 * Two moments of death: before the IdP handled the refresh (the stored refresh token is still
 * good), and after the IdP rotated it but before the broker could store the new one (the stored
 * token is spent; oidc-provider treats its reuse as theft and ends the grant).
 */
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { FileStore } from '../../src/stores/file.js';
import { startIdP, type IdP } from '../fixtures/idp.js';
import {
  type BrokerProcess,
  type SharedFileStore,
  sharedStore,
  startBrokerProcess,
  stopBrokerProcess
} from './brokerProcess.js';

let base: string;
let idp: IdP;
const brokers: BrokerProcess[] = [];
/** Called (synchronously) when the IdP has issued tokens for a refresh, before it answers. */
let onRefreshIssued: (() => void) | undefined;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-crash-'));
  await chmod(base, 0o700);
  idp = await startIdP();
  idp.provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: string } } }) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') onRefreshIssued?.();
  });
});
afterAll(async () => {
  await Promise.all(brokers.map(stopBrokerProcess));
  await idp.close();
  await rm(base, { recursive: true, force: true });
});

async function start(store: SharedFileStore): Promise<BrokerProcess> {
  const broker = await startBrokerProcess(base, idp, store);
  brokers.push(broker);
  return broker;
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/**
 * Signs in, then kills the broker with SIGKILL during its refresh: `before` the IdP handles it (the
 * IdP leaves the request unanswered), or `after` the IdP rotated the refresh token and before the
 * broker got the answer (killed from the IdP's own grant.success event).
 */
async function killDuringRefresh(store: SharedFileStore, when: 'before' | 'after'): Promise<void> {
  const broker = await start(store);
  idp.accessTokenTtl = 1; // the sign-in's token cannot meet the min_ttl below: a refresh is due
  expect((await broker.login(idp)).status).toBe(200);
  idp.accessTokenTtl = 600;
  idp.refreshes = 0;
  idp.refreshFailures = 0;
  if (when === 'before') idp.hang = true;
  else onRefreshIssued = () => broker.child.kill('SIGKILL');
  const pending = broker.request('POST', '/api/v1/providers/demo/token', { min_ttl: 60 }).then(
    () => 'answered',
    () => 'connection lost'
  );
  if (when === 'before') {
    // The refresh is under way once the broker holds the grant's lock.
    await waitFor(async () => (await readdir(store.dir)).includes('grants.store.demo.lock'));
    broker.child.kill('SIGKILL');
  }
  expect(await broker.exited).toBe('SIGKILL');
  expect(await pending).toBe('connection lost');
  idp.hang = false;
  onRefreshIssued = undefined;
  expect(idp.refreshes).toBe(when === 'after' ? 1 : 0);
}

/** The store as the next process will find it: it must open and authenticate. */
async function storeStillReadable(store: SharedFileStore): Promise<void> {
  const reader = new FileStore({
    path: store.path,
    keyFile: store.keyFile,
    lock: { waitMs: 2000, staleMs: 10000 }
  });
  await reader.open();
  await reader.get('demo');
  await reader.close();
}

test('killed before the IdP handled the refresh: after a restart the grant still works', async () => {
  const store = await sharedStore(base);
  await killDuringRefresh(store, 'before');
  // The killed process left its grant lock behind.
  expect((await readdir(store.dir)).some(n => n.endsWith('.demo.lock'))).toBe(true);
  await storeStillReadable(store);

  const restarted = await start(store);
  const answer = await restarted.request('POST', '/api/v1/providers/demo/token', { min_ttl: 60 });
  expect(answer.status).toBe(200);
  expect(answer.json.expires_in).toBeGreaterThan(500);
  expect(idp.refreshFailures).toBe(0);
  expect((await readdir(store.dir)).filter(n => n.includes('.lock'))).toEqual([]);
}, 30000);

test('killed after the IdP rotated the token: a clean 401 login_required, then sign-in works', async () => {
  const store = await sharedStore(base);
  await killDuringRefresh(store, 'after');
  await storeStillReadable(store);

  const restarted = await start(store);
  const answer = await restarted.request('POST', '/api/v1/providers/demo/token', { min_ttl: 60 });
  expect(answer.status).toBe(401);
  expect(answer.json.error).toBe('login_required');
  const list = await restarted.request('GET', '/api/v1/providers');
  expect(list.json.providers[0]).toMatchObject({ signed_in: false, needs_login: true });

  // The store is intact: signing in again works and survives yet another restart.
  expect((await restarted.login(idp)).status).toBe(200);
  await stopBrokerProcess(restarted);
  const again = await start(store);
  const token = await again.request('POST', '/api/v1/providers/demo/token', {});
  expect(token.status).toBe(200);
}, 30000);
