/**
 * Short-lived access tokens with the default settings (issue 11, defect 6): with 30 s tokens and
 * `refresh_margin_seconds` 30, every request refreshed (and rotated the refresh token); with 10 s
 * tokens a request naming no `min_ttl` was refused (`default_min_ttl` 30 is longer than the
 * lifetime). The margin and the default `min_ttl` are now at most half the token's lifetime; an
 * explicit `min_ttl` stays a promise.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
});
afterAll(async () => {
  await broker?.close();
  await idp.close();
});

/** A broker with the default config, signed in while the IdP issues `ttl`-second tokens. */
async function signedIn(ttl: number): Promise<void> {
  await broker?.close();
  idp.accessTokenTtl = ttl;
  broker = await startBroker(idp);
  expect((await broker.login()).status).toBe(200);
  idp.refreshes = 0;
  idp.refreshFailures = 0;
}

const token = (body: Record<string, unknown> = {}): Promise<Answer> =>
  broker.request('POST', '/api/v1/providers/demo/token', { body });

describe.each([10, 30, 300])('%i s access tokens, default settings', ttl => {
  beforeEach(async () => {
    await signedIn(ttl);
  });

  test('a request naming no min_ttl is served, with at least half the lifetime left', async () => {
    for (let second = 0; second < 2 * ttl; second += Math.max(1, ttl / 10)) {
      const answer = await token();
      expect([answer.status, answer.json.error]).toEqual([200, undefined]);
      // (less a second: expires_in is counted when the answer leaves, on a busy machine later)
      expect(answer.json.expires_in).toBeGreaterThanOrEqual(Math.min(30, ttl / 2) - 1);
      broker.advance(Math.max(1, ttl / 10));
    }
    expect(idp.refreshFailures).toBe(0);
  });

  test('consecutive requests refresh once per half lifetime (at most), not on every call', async () => {
    // One request a second for two lifetimes (a tenth of the lifetime for 300 s tokens).
    const step = Math.max(1, Math.floor(ttl / 30));
    let requests = 0;
    for (let second = 0; second < 2 * ttl; second += step) {
      expect((await token()).status).toBe(200);
      requests++;
      broker.advance(step);
    }
    // Half a lifetime per token: about 4 refreshes in two lifetimes (margin 30 s of a 300 s token: 2);
    // the real time the requests take moves the broker's clock too (one more on a busy machine).
    const expected = ttl === 300 ? 2 : 4;
    expect(idp.refreshes).toBeLessThanOrEqual(expected + 2);
    expect(idp.refreshes).toBeLessThan(requests / 4);
    expect(idp.refreshFailures).toBe(0);
  });

  test('an explicit min_ttl is a promise: met up to the lifetime, refused past it', async () => {
    const exact = await token({ min_ttl: ttl });
    expect([exact.status, exact.json.error]).toEqual([200, undefined]);
    expect(exact.json.expires_in).toBeGreaterThanOrEqual(ttl);
    const longer = await token({ min_ttl: ttl + 1 });
    expect([longer.status, longer.json.error]).toEqual([400, 'invalid_request']);
    expect(longer.json.error_description).toContain(
      `min_ttl ${ttl + 1} is longer than the identity provider's token lifetime (${ttl} s)`
    );
    // The grant is unharmed.
    expect((await token()).status).toBe(200);
  });
});
