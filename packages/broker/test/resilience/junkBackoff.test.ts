/**
 * Junk answers to a refresh back off like an outage (issue 11, defect 10): a gateway's 502, an HTML
 * page or broken JSON from the token endpoint. Before, only an unreachable or 503 IdP started the
 * backoff, so every caller called the failing IdP again.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

type Junk = 'gateway 502' | 'html' | 'broken json';

const state = { junk: null as Junk | null, tokenCalls: 0 };

/** Counts the token endpoint's calls and answers junk in their place while `state.junk` is set. */
function junkAt(issuer: string) {
  return (inner: typeof fetch): typeof fetch =>
    async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (!url.startsWith(`${issuer}/token`)) return inner(input, init);
      state.tokenCalls++;
      switch (state.junk) {
        case 'gateway 502':
          return new Response('<html><body>502 Bad Gateway</body></html>', {
            status: 502,
            headers: { 'content-type': 'text/html' }
          });
        case 'html':
          return new Response('<html><body>Sign in to the proxy</body></html>', {
            status: 200,
            headers: { 'content-type': 'text/html' }
          });
        case 'broken json':
          return new Response('{"access_token": ', {
            status: 200,
            headers: { 'content-type': 'application/json' }
          });
        default:
          return inner(input, init);
      }
    };
}

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
});
afterAll(async () => {
  await broker?.close();
  await idp.close();
});
beforeEach(async () => {
  await broker?.close();
  state.junk = null;
  broker = await startBroker(idp, { wrapFetch: junkAt(idp.issuer) });
  expect((await broker.login()).status).toBe(200);
  broker.advance(200); // the cached token expired: every request below needs a refresh
  state.tokenCalls = 0;
});

const token = (): Promise<Answer> =>
  broker.request('POST', '/api/v1/providers/demo/token', { body: {} });

describe.each(['gateway 502', 'html', 'broken json'] as const)(
  'the token endpoint answers a refresh with %s',
  junk => {
    test('one IdP call, then 503 with Retry-After without calling it again until the backoff ends; the grant is kept', async () => {
      state.junk = junk;
      const first = await token();
      expect(first.status).toBeGreaterThanOrEqual(500);
      expect(first.text).not.toMatch(/Sign in to the proxy|Bad Gateway|access_token/);
      const next = await Promise.all(Array.from({ length: 5 }, () => token()));
      for (const answer of next) {
        expect(answer.status).toBe(503);
        expect(answer.json.error).toBe('upstream_unavailable');
        expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
      }
      for (let i = 0; i < 5; i++) expect((await token()).status).toBe(503);
      expect(state.tokenCalls).toBe(1);

      // The IdP is mended: after the backoff the next request refreshes, with the kept grant.
      state.junk = null;
      broker.advance(Number(next[0].headers['retry-after']));
      const back = await token();
      expect([back.status, back.json.error]).toEqual([200, undefined]);
      expect(state.tokenCalls).toBe(2);
      expect(idp.refreshFailures).toBe(0);
    });
  }
);
