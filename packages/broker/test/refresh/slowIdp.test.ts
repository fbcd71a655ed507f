/**
 * A slow IdP must not log the user out (issue 11, defect 1). The IdP below processes a refresh at
 * once (the refresh token is rotated, the old one consumed) but answers later than
 * `upstream_timeout_ms`. oidc-provider ends the whole grant when a consumed rotated refresh token
 * is used again, as Django OAuth Toolkit and Keycloak do. The caller gets its 503 at the deadline;
 * the late answer's rotated refresh token must still be stored, and nothing may spend the old one.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

const TIMEOUT_MS = 800;
const LATE_MS = 2000;

let idp: IdP;
let broker: TestBroker;

beforeEach(async () => {
  idp = await startIdP();
  broker = await startBroker(idp, { config: { upstream_timeout_ms: TIMEOUT_MS } });
  expect((await broker.login()).status).toBe(200);
  idp.refreshes = 0;
  idp.refreshFailures = 0;
});
afterEach(async () => {
  await broker.close();
  await idp.close();
});

const token = (): Promise<Answer> =>
  broker.request('POST', '/api/v1/providers/demo/token', { body: {} });

async function storedRefreshToken(): Promise<string | null | undefined> {
  return (await broker.context.store.get('demo'))?.refreshToken;
}

describe('an IdP that answers a refresh later than upstream_timeout_ms', () => {
  test('the caller gets 503 at the deadline, the late rotation is stored, the next request works and the IdP saw no reuse', async () => {
    const before = await storedRefreshToken();
    broker.advance(200); // the cached token expired: the next request refreshes
    idp.lateMs = LATE_MS;

    const started = Date.now();
    const slow = await token();
    const waited = Date.now() - started;
    expect(slow.status).toBe(503);
    expect(slow.json.error).toBe('upstream_unavailable');
    expect(Number(slow.headers['retry-after'])).toBeGreaterThan(0);
    expect(waited).toBeLessThan(LATE_MS); // answered at the deadline, not when the IdP answered

    // A second caller while the late answer is still out: it must not spend the old refresh token.
    const meanwhile = await token();
    expect(meanwhile.status).toBe(503);

    await sleep(LATE_MS + 300); // the IdP's late answer arrives and is stored
    idp.lateMs = 0;
    broker.advance(10); // past any backoff

    // The late answer's access token serves the next request; a refresh after it uses the rotated
    // refresh token. (Before the fix: 401 login_required, the IdP having revoked the grant on reuse.)
    const next = await token();
    expect([next.status, next.json.error]).toEqual([200, undefined]);
    broker.advance(200);
    const later = await token();
    expect([later.status, later.json.error]).toEqual([200, undefined]);
    expect(idp.refreshFailures).toBe(0); // no reuse of a consumed refresh token
    expect(idp.refreshes).toBe(2); // the late one and the one after it, nothing in between
    const after = await storedRefreshToken();
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );
  });

  test('an IdP that never answers: 503 at the deadline, the grant kept, the request given up at its hard limit', async () => {
    broker.advance(200);
    idp.hang = true;
    const started = Date.now();
    const stuck = await token();
    expect(stuck.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(LATE_MS);
    // The request itself runs until its hard limit (2 × 800 ms + 5 s), then backs off.
    await sleep(2 * TIMEOUT_MS + 5000 + 300);
    idp.hang = false;
    const backingOff = await token();
    expect(backingOff.status).toBe(503);
    broker.advance(10);
    const back = await token();
    expect([back.status, back.json.error]).toEqual([200, undefined]);
    expect(idp.refreshFailures).toBe(0);
  }, 20000);
});
