/**
 * Resilience proofs through HTTP against real oidc-providers: a 60 s IdP outage (on the broker's
 * movable clock), a slow IdP, an IdP answering junk while another provider's IdP stays healthy,
 * clock skew of ±5 minutes, and header-injection attempts.
 */
import { connect } from 'node:net';

import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { CLIENT_ID, SCOPES, startIdP, type IdP } from '../fixtures/idp.js';

type Fault = 'html' | 'badjson' | null;

/** A fetch wrapper that makes the token endpoint of `issuer` answer junk while `fault` is set. */
function junkOn(issuer: string, state: { fault: Fault }) {
  return (inner: typeof fetch): typeof fetch =>
    async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (state.fault !== null && url.startsWith(`${issuer}/token`)) {
        return state.fault === 'html'
          ? new Response('<html><body>Gateway says hi</body></html>', {
              status: 200,
              headers: { 'content-type': 'text/html' }
            })
          : new Response('{"access_token": ', {
              status: 200,
              headers: { 'content-type': 'application/json' }
            });
      }
      return inner(input, init);
    };
}

function token(broker: TestBroker, provider = 'demo', minTtl?: number): Promise<Answer> {
  return broker.request('POST', `/api/v1/providers/${provider}/token`, {
    body: minTtl === undefined ? {} : { min_ttl: minTtl }
  });
}

/** Signs in to a second provider `other` on its own IdP. */
async function loginOther(broker: TestBroker, idp: IdP): Promise<void> {
  const started = await broker.request('POST', '/api/v1/providers/other/login', { body: {} });
  const redirect = await idp.authorize(started.json.authorization_url);
  const done = await broker.request('GET', `/api/v1/callback${redirect.search}`, {
    headers: { accept: 'application/json' }
  });
  expect(done.status).toBe(200);
}

describe('IdP outage of 60 s', () => {
  let idp: IdP;
  let broker: TestBroker;

  beforeEach(async () => {
    idp = await startIdP();
    broker = await startBroker(idp);
    expect((await broker.login()).status).toBe(200);
  });
  afterEach(async () => {
    await broker.close();
    await idp.close();
  });

  test('keeps the grant, serves cached tokens, says 503 with Retry-After, recovers after', async () => {
    const cached = await token(broker);
    idp.down = true;
    for (let t = 0; t < 60; t += 10) {
      // Still valid for 30 s more: served from the cache, no IdP call needed.
      const served = await token(broker, 'demo', 30);
      expect(served.status).toBe(200);
      expect(served.json.access_token).toBe(cached.json.access_token);
      // Needs more life than the cached token has: a refresh, which the outage refuses.
      const left = cached.json.expires_at - Math.floor(broker.context.clock() / 1000);
      const refused = await token(broker, 'demo', left + 1);
      expect(refused.status).toBe(503);
      expect(refused.json.error).toBe('upstream_unavailable');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      const listed = await broker.request('GET', '/api/v1/providers');
      expect(listed.json.providers[0].signed_in).toBe(true);
      broker.advance(10);
    }
    expect(idp.refreshFailures).toBe(0); // the IdP never saw (and so never burnt) the refresh token
    idp.down = false;
    broker.advance(60); // past the longest backoff
    const fresh = await token(broker, 'demo', 60);
    expect(fresh.status).toBe(200);
    expect(fresh.json.access_token).not.toBe(cached.json.access_token);
    expect(fresh.json.expires_in).toBeGreaterThanOrEqual(60);
  });

  test('a stopped IdP listener (connection refused) keeps the grant and says 503', async () => {
    await idp.close(); // the listener is gone: connection refused
    broker.advance(200);
    const refused = await token(broker);
    expect(refused.status).toBe(503);
    expect(refused.json.error).toBe('upstream_unavailable');
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );
    idp = await startIdP(); // afterEach closes this one
  });
});

describe('a slow or junk IdP next to a healthy one', () => {
  let slow: IdP;
  let healthy: IdP;
  let broker: TestBroker;
  const junk = { fault: null as Fault };

  beforeEach(async () => {
    slow = await startIdP();
    healthy = await startIdP();
    junk.fault = null;
    broker = await startBroker(slow, {
      wrapFetch: junkOn(slow.issuer, junk),
      config: {
        upstream_timeout_ms: 500,
        providers: [
          { id: 'demo', issuer: slow.issuer, client_id: CLIENT_ID, scopes: SCOPES },
          { id: 'other', issuer: healthy.issuer, client_id: CLIENT_ID, scopes: SCOPES }
        ]
      }
    });
    expect((await broker.login()).status).toBe(200);
    await loginOther(broker, healthy);
    broker.advance(200); // both cached tokens expired: the next requests refresh
  });
  afterEach(async () => {
    await broker.close();
    await slow.close();
    await healthy.close();
  });

  test('an IdP that does not answer hits the deadline: 503, while the other provider is served', async () => {
    slow.hang = true;
    const started = Date.now();
    const [stuck, fine] = await Promise.all([token(broker, 'demo'), token(broker, 'other')]);
    expect(stuck.status).toBe(503);
    expect(stuck.json.error).toBe('upstream_unavailable');
    expect(stuck.json.error_description).toMatch(/did not answer within 500 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(fine.status).toBe(200);
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );
  });

  test.each(['html', 'badjson'] as const)(
    'an IdP answering %s gives 502 upstream_error and keeps the grant; the other provider is served',
    async fault => {
      junk.fault = fault;
      const [bad, fine] = await Promise.all([token(broker, 'demo'), token(broker, 'other')]);
      expect(bad.status).toBe(502);
      expect(bad.json.error).toBe('upstream_error');
      expect(bad.text).not.toMatch(/Gateway says hi|access_token/);
      expect(fine.status).toBe(200);
      junk.fault = null;
      // Junk backs off like an outage (junkBackoff.test.ts); after it the grant still works.
      expect((await token(broker, 'demo')).status).toBe(503);
      broker.advance(2);
      expect((await token(broker, 'demo')).status).toBe(200);
    }
  );
});

describe('clock skew of ±5 minutes between broker and IdP', () => {
  let idp: IdP;

  beforeEach(async () => {
    idp = await startIdP();
  });
  afterEach(async () => {
    await idp.close();
  });

  test.each([300, -300])(
    "broker clock %i s off: tokens keep min_ttl by the broker's own clock",
    async skew => {
      const broker = await startBroker(idp);
      try {
        broker.advance(skew);
        expect((await broker.login()).status).toBe(200);
        const brokerNow = (): number => Math.floor(broker.context.clock() / 1000);
        const first = await token(broker, 'demo', 60);
        expect(first.status).toBe(200);
        expect(first.json.expires_at - brokerNow()).toBeGreaterThanOrEqual(60);
        expect(first.json.expires_in).toBeGreaterThanOrEqual(60);
        broker.advance(100); // 20 s left by the broker's clock: min_ttl 60 forces a refresh
        const second = await token(broker, 'demo', 60);
        expect(second.status).toBe(200);
        expect(second.json.access_token).not.toBe(first.json.access_token);
        expect(second.json.expires_at - brokerNow()).toBeGreaterThanOrEqual(60);
      } finally {
        await broker.close();
      }
    }
  );
});

describe('header injection', () => {
  let idp: IdP;
  let broker: TestBroker;

  beforeEach(async () => {
    idp = await startIdP();
    broker = await startBroker(idp);
    expect((await broker.login()).status).toBe(200);
  });
  afterEach(async () => {
    await broker.close();
    await idp.close();
  });

  /** Sends bytes as they are (Node's client refuses CR/LF in headers, an attacker's does not). */
  function raw(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(broker.socket);
      let text = '';
      socket.on('data', chunk => (text += chunk.toString('utf8')));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.end(request);
    });
  }

  test('CR/LF in a provider id, a header value or the client label is 400 with no effect', async () => {
    const before = (await broker.request('GET', '/api/v1/events')).json.events.length;
    const key = broker.key;
    const attempts = [
      `POST /api/v1/providers/demo%0d%0aX-Broker-Caller:%20admin/token HTTP/1.1\r\nHost: x\r\nX-Broker-Key: ${key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST /api/v1/providers/demo/token HTTP/1.1\r\nHost: x\r\nX-Broker-Key: ${key}\r\nX-Broker-Client: evil\rX-Broker-Caller: admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      `POST /api/v1/admin/revoke HTTP/1.1\r\nHost: x\r\nX-Broker-Key: ${key}\r\nX-Broker-Caller: owner\nadmin\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"reason":"x"}\n`
    ];
    for (const attempt of attempts) {
      const answer = await raw(attempt);
      expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).not.toMatch(/access_token|^X-Broker-Caller/im);
    }
    for (const label of ['evil label', 'a'.repeat(129), 'plugin\u00e9', '<script>']) {
      const answer = await broker.request('POST', '/api/v1/providers/demo/token', {
        body: {},
        headers: { 'x-broker-client': label }
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('invalid_request');
    }
    const injected = await broker.request('POST', '/api/v1/providers/demo/token', {
      body: { scopes: ['openid\r\nX-Evil: 1'] }
    });
    expect(injected.status).toBe(400);
    // No effect: still signed in, nothing issued or revoked, nothing queued.
    expect((await broker.request('GET', '/api/v1/providers')).json.providers[0].signed_in).toBe(
      true
    );
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events.length).toBe(before);
    expect(await broker.context.revocations.pending()).toBe(0);
    expect(broker.logs.join('\n')).not.toContain('X-Evil');
  });
});
