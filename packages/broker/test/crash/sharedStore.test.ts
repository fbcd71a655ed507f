/**
 * Two broker processes on one store (the encrypted file; the OS keychain on a real Secret
 * Service), against a real oidc-provider that rotates refresh tokens on every use: concurrent token
 * requests for an expired token against both cost exactly one upstream refresh, and nobody is
 * signed out.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, test } from '@jest/globals';

import { startIdP, type IdP } from '../fixtures/idp.js';
import {
  type BrokerProcess,
  type SharedStore,
  sharedKeyringStore,
  sharedStore,
  startBrokerProcess,
  stopBrokerProcess
} from './brokerProcess.js';

const secretService = process.env.TB_TEST_SECRET_SERVICE === 'ready';
if (!secretService) {
  console.warn(
    `SKIPPED the keyring case: ${process.env.TB_TEST_SECRET_SERVICE ?? 'no globalSetup'}`
  );
}

let base: string;
let idp: IdP;
const brokers: BrokerProcess[] = [];

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-shared-'));
  await chmod(base, 0o700);
  idp = await startIdP();
});
afterAll(async () => {
  await Promise.all(brokers.map(stopBrokerProcess));
  await idp.close();
  await rm(base, { recursive: true, force: true });
});

const stores: [string, () => Promise<SharedStore>][] = [['file', () => sharedStore(base)]];
if (secretService) stores.push(['keyring', async () => sharedKeyringStore(base)]);

test.each(stores)(
  '%s store: concurrent requests for an expired token on two processes: one refresh, no logout',
  async (_name, makeStore) => {
    const store = await makeStore();
    const a = await startBrokerProcess(base, idp, store);
    const b = await startBrokerProcess(base, idp, store);
    brokers.push(a, b);

    // Signed in through A with a token that is already inside the refresh margin.
    idp.accessTokenTtl = 1;
    expect((await a.login(idp)).status).toBe(200);
    idp.accessTokenTtl = 600;
    idp.refreshes = 0;
    idp.refreshFailures = 0;

    const ask = (broker: BrokerProcess) =>
      broker.request('POST', '/api/v1/providers/demo/token', { min_ttl: 60 });
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) => ask(i % 2 === 0 ? a : b))
    );

    expect(answers.map(x => x.status)).toEqual(Array(16).fill(200));
    expect(idp.refreshes).toBe(1);
    expect(idp.refreshFailures).toBe(0);
    // B did not refresh on its own: it used the token A stored with the rotated grant.
    expect(new Set(answers.map(x => x.json.access_token)).size).toBe(1);
    for (const x of answers) expect(x.json.expires_in).toBeGreaterThanOrEqual(60);

    // Both still signed in, and the rotated refresh token works from either process.
    for (const broker of [a, b]) {
      const list = await broker.request('GET', '/api/v1/providers');
      expect(list.json.providers[0]).toMatchObject({ id: 'demo', signed_in: true });
    }
    idp.accessTokenTtl = 1000;
    const fresh = await b.request('POST', '/api/v1/providers/demo/token', { min_ttl: 700 });
    expect(fresh.status).toBe(200);
    expect(idp.refreshes).toBe(2);
    expect(idp.refreshFailures).toBe(0);

    // A sign-out in one process is a sign-out in the other.
    expect((await b.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    const after = await a.request('POST', '/api/v1/providers/demo/token', { min_ttl: 599 });
    expect(after.status).toBe(401);
    expect(after.json.error).toBe('login_required');

    // No token material in either process's log.
    for (const x of answers.slice(0, 1)) {
      expect(a.stderr()).not.toContain(x.json.access_token);
      expect(b.stderr()).not.toContain(x.json.access_token);
    }
  },
  60000
);
