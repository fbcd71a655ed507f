/**
 * The egress (issue 13) through HTTP, against the real oidc-provider and a real resource server on
 * 127.0.0.1 that accepts only the IdP's live access tokens: the allowlist refuses before any token
 * is got, the caller's credentials never reach the upstream, the answer comes back without what
 * would act on Jupyter's origin, a 401 is retried once with a newer token (never a POST), gateway
 * failures say so without token material, every call is audited, and `expose_token: false` keeps
 * the token route shut.
 */
import { connect, createServer } from 'node:net';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import {
  type Answer,
  type RequestOptions,
  startBroker,
  type TestBroker
} from '../fixtures/broker.js';
import { type IdP, startIdP } from '../fixtures/idp.js';
import { streamRequest } from './client.js';
import { startUpstream, type Upstream } from './upstream.js';

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

let idp: IdP;
let upstream: Upstream;
let broker: TestBroker;
let downPort: number;

/** The egress path of `target` (`scheme/authority/path?query`) through `provider`. */
function egressPath(target: string, provider = 'demo'): string {
  return `/api/v1/egress/${provider}/${target}`;
}

/** Every egress answer the tests got (head and body), to look for token material in. */
const answers: string[] = [];

/** An egress call to the upstream's `path` (`api/echo?x=1`). */
async function call(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const answer = await broker.request(
    method,
    egressPath(`http/127.0.0.1:${upstream.port}/${path}`),
    options
  );
  answers.push(JSON.stringify(answer.headers) + answer.text);
  return answer;
}

/** The access token the broker holds for `demo` now (to look for it where it must not be). */
async function currentToken(): Promise<string> {
  const { token } = await broker.context.tokens.get(broker.context.providers.lookup('demo'), {
    scopes: undefined,
    minTtl: undefined,
    audience: undefined
  });
  return token.accessToken;
}

/** Token endpoint calls the broker made so far. */
function tokenCalls(): number {
  return broker.upstreamCalls.filter(url => url.endsWith('/token')).length;
}

beforeAll(async () => {
  idp = await startIdP();
  upstream = await startUpstream(idp);
  downPort = await closedPort();
  broker = await startBroker(idp, {
    provider: {
      egress: [`${upstream.origin}/api/`, `http://127.0.0.1:${downPort}/down/`]
    },
    config: {
      egress_timeout_ms: 400,
      egress_idle_timeout_ms: 400,
      egress_max_request_bytes: 1000,
      egress_max_response_bytes: 100000
    }
  });
  const signedIn = await broker.login();
  expect(signedIn.status).toBe(200);
});

afterAll(async () => {
  await broker.close();
  await upstream.close();
  await idp.close();
});

describe('the allowlist', () => {
  test.each([
    ['another port', (p: number) => `http/127.0.0.1:${p + 1}/api/echo`, 'http://127.0.0.1:+1'],
    ['another scheme', (p: number) => `https/127.0.0.1:${p}/api/echo`, 'https://127.0.0.1:'],
    ['another host', (p: number) => `http/localhost:${p}/api/echo`, 'http://localhost:'],
    [
      'a path outside the prefix',
      (p: number) => `http/127.0.0.1:${p}/admin/echo`,
      'http://127.0.0.1:'
    ],
    [
      'a path only like the prefix',
      (p: number) => `http/127.0.0.1:${p}/apix/echo`,
      'http://127.0.0.1:'
    ],
    ['the prefix without its slash', (p: number) => `http/127.0.0.1:${p}/api`, 'http://127.0.0.1:']
  ])(
    '%s is refused 403 egress_not_allowed before any token is got, naming the origin but not the query',
    async (_name, target, origin) => {
      // The cached token expired: any token the broker got now would be a call to the IdP.
      broker.advance(300);
      const calls = tokenCalls();
      const seen = upstream.seen.length;
      const answer = await broker.request(
        'GET',
        `${egressPath(target(upstream.port))}?secret=s3cr3t-query`,
        {
          headers: { 'x-broker-client': 'kernel' }
        }
      );
      expect(answer.status).toBe(403);
      expect(answer.json.error).toBe('egress_not_allowed');
      expect(answer.headers['x-token-broker-error']).toBe('egress_not_allowed');
      expect(answer.json.error_description).toContain("'demo'");
      const port = origin.endsWith('+1') ? upstream.port + 1 : upstream.port;
      expect(answer.json.error_description).toContain(`${origin.replace(/\+1$/, '')}${port}`);
      expect(answer.json.error_description).not.toContain('s3cr3t');
      expect(tokenCalls()).toBe(calls);
      expect(upstream.seen.length).toBe(seen);
    }
  );

  test('a target under the prefix gets a fresh token (the refusals above were not for want of one)', async () => {
    broker.advance(300);
    const calls = tokenCalls();
    const answer = await call('GET', 'api/echo');
    expect(answer.status).toBe(200);
    expect(tokenCalls()).toBe(calls + 1);
    expect(upstream.seen.at(-1)?.valid).toBe(true);
  });

  test.each([
    ['a dot-dot segment', 'api/../admin/echo'],
    ['a dot segment', 'api/./echo'],
    ['an encoded dot-dot', 'api/%2e%2e/admin/echo'],
    ['an encoded dot in upper case', 'api/%2E%2E/admin/echo'],
    ['an encoded slash', 'api%2f..%2fadmin/echo'],
    ['an encoded backslash', 'api/..%5cadmin/echo'],
    ['a backslash', 'api/..\\admin/echo'],
    ['a dot-dot with parameters', 'api/..;x=1/admin/echo'],
    ['a malformed escape', 'api/%zz/echo']
  ])('%s in the path is refused 400 before the allowlist and any token', async (_name, path) => {
    broker.advance(300);
    const calls = tokenCalls();
    const seen = upstream.seen.length;
    const answer = await call('GET', path);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
    expect(answer.headers['x-token-broker-error']).toBe('invalid_request');
    expect(tokenCalls()).toBe(calls);
    expect(upstream.seen.length).toBe(seen);
  });

  test('userinfo in the authority is refused 400', async () => {
    const answer = await broker.request(
      'GET',
      egressPath(`http/user:pw@127.0.0.1:${upstream.port}/api/echo`)
    );
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  test('an unknown provider is 404 unknown_provider', async () => {
    const answer = await broker.request(
      'GET',
      egressPath(`http/127.0.0.1:${upstream.port}/api/echo`, 'nope')
    );
    expect(answer.status).toBe(404);
    expect(answer.headers['x-token-broker-error']).toBe('unknown_provider');
  });
});

describe('what crosses to the upstream', () => {
  test("the caller's Authorization, cookies, X-Broker-* and Jupyter's headers stay behind; the broker's bearer token goes", async () => {
    const answer = await call('GET', 'api/echo?q=1&r=2', {
      headers: {
        authorization: 'token jupyter-api-token-of-the-user',
        cookie: '_xsrf=abc; jupyter-session=xyz',
        'x-xsrftoken': 'abc',
        origin: 'http://localhost:8888',
        referer: 'http://localhost:8888/lab',
        'x-token-broker-debug': '1',
        'x-broker-client': 'kernel',
        accept: 'application/json',
        range: 'bytes=0-10',
        'x-custom': 'not on the allowlist'
      }
    });
    expect(answer.status).toBe(200);
    const { headers, url } = answer.json as { headers: Record<string, string>; url: string };
    expect(url).toBe('/api/echo?q=1&r=2');
    expect(headers.authorization).toBe(`Bearer ${await currentToken()}`);
    expect(headers.cookie).toBeUndefined();
    expect(headers['x-xsrftoken']).toBeUndefined();
    expect(headers.origin).toBeUndefined();
    expect(headers.referer).toBeUndefined();
    expect(headers['x-custom']).toBeUndefined();
    expect(Object.keys(headers).filter(name => name.startsWith('x-broker-'))).toEqual([]);
    expect(Object.keys(headers).filter(name => name.startsWith('x-token-broker'))).toEqual([]);
    expect(headers.accept).toBe('application/json');
    expect(headers.range).toBe('bytes=0-10');
    expect(headers['user-agent']).toMatch(/^jupyter-token-broker\/\d/);
    expect(upstream.seen.at(-1)?.valid).toBe(true);
  });

  test('a redirect to another origin is not followed: the 302 comes back as it is', async () => {
    const seen = upstream.seen.length;
    const answer = await call('GET', 'api/redirect');
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe('http://127.0.0.2:9/elsewhere');
    expect(answer.headers['x-token-broker-error']).toBeUndefined();
    expect(upstream.seen.length).toBe(seen + 1);
  });

  test("the answer loses cookies, hop-by-hop headers and what would act on Jupyter's origin, and gains a sandbox", async () => {
    const answer = await call('GET', 'api/page');
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('<script>alert(document.cookie)</script>');
    const h = answer.headers;
    expect(h['set-cookie']).toBeUndefined();
    expect(h['x-hop-named']).toBeUndefined();
    // The broker's own server may say how long it keeps the connection; the upstream's is not relayed.
    expect(h['keep-alive']).not.toBe('timeout=77');
    expect(h['strict-transport-security']).toBeUndefined();
    expect(h['clear-site-data']).toBeUndefined();
    expect(h['access-control-allow-origin']).toBeUndefined();
    // An upstream cannot pass its answer off as the broker's.
    expect(h['x-token-broker-error']).toBeUndefined();
    expect(h['content-security-policy']).toBe("default-src 'self', sandbox");
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['x-kept']).toBe('yes');
    expect(h['content-type']).toBe('text/html');
  });
});

describe('a 401 of the upstream', () => {
  test('a GET is tried once more with a newer token when the upstream refused the one held', async () => {
    const rejected = await currentToken();
    // The resource server no longer accepts it (revoked at the IdP), though it has not expired.
    await (await idp.provider.AccessToken.find(rejected))?.destroy();
    const refreshes = idp.refreshes;
    const seen = upstream.seen.length;
    const answer = await call('GET', 'api/echo');
    expect(answer.status).toBe(200);
    expect(idp.refreshes).toBe(refreshes + 1);
    const [first, second] = upstream.seen.slice(seen);
    expect(first.token).toBe(rejected);
    expect(first.valid).toBe(false);
    expect(second.token).not.toBe(rejected);
    expect(second.valid).toBe(true);
    expect(upstream.seen.length).toBe(seen + 2);
    // The newer token is the one held now: the next call needs no refresh.
    expect((await call('GET', 'api/echo')).status).toBe(200);
    expect(idp.refreshes).toBe(refreshes + 1);
  });

  test("a POST (it has a body) is never retried: the upstream's 401 comes back as it is", async () => {
    const rejected = await currentToken();
    await (await idp.provider.AccessToken.find(rejected))?.destroy();
    const refreshes = idp.refreshes;
    const seen = upstream.seen.length;
    const answer = await call('POST', 'api/upload', {
      raw: 'a small body',
      contentType: 'text/plain'
    });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({ error: 'invalid_token' });
    expect(answer.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(answer.headers['x-token-broker-error']).toBeUndefined();
    expect(upstream.seen.length).toBe(seen + 1);
    expect(idp.refreshes).toBe(refreshes);
    // A GET then gets past the rejected token.
    expect((await call('GET', 'api/echo')).status).toBe(200);
    expect(idp.refreshes).toBe(refreshes + 1);
  });
});

describe('gateway failures', () => {
  test('an upstream that refuses connections is 502 upstream_unavailable without token material', async () => {
    const token = await currentToken();
    const answer = await broker.request('GET', egressPath(`http/127.0.0.1:${downPort}/down/x`));
    expect(answer.status).toBe(502);
    expect(answer.json.error).toBe('upstream_unavailable');
    expect(answer.headers['x-token-broker-error']).toBe('upstream_unavailable');
    expect(answer.json.error_description).toContain(`http://127.0.0.1:${downPort}`);
    expect(answer.json.error_description).toContain('ECONNREFUSED');
    expect(answer.text).not.toContain(token);
    expect(JSON.stringify(answer.headers)).not.toContain(token);
    expect(broker.logs.join('\n')).not.toContain(token);
  });

  test('an upstream that never answers is 504 after egress_timeout_ms', async () => {
    const started = Date.now();
    const answer = await call('GET', 'api/hang');
    expect(answer.status).toBe(504);
    expect(answer.json.error).toBe('upstream_unavailable');
    expect(answer.headers['x-token-broker-error']).toBe('upstream_unavailable');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('the head deadline holds even when the idle deadline is far longer', async () => {
    const patient = await startBroker(idp, {
      provider: { egress: [`${upstream.origin}/api/`] },
      config: { egress_timeout_ms: 300, egress_idle_timeout_ms: 60000 }
    });
    try {
      expect((await patient.login()).status).toBe(200);
      const started = Date.now();
      const answer = await patient.request(
        'GET',
        egressPath(`http/127.0.0.1:${upstream.port}/api/hang`)
      );
      expect(answer.status).toBe(504);
      expect(answer.json.error_description).toContain('did not answer within 300 ms');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await patient.close();
    }
  });

  test('an answer whose body stops is cut after egress_idle_timeout_ms and audited as an error', async () => {
    const started = Date.now();
    const answer = await streamRequest(
      broker,
      'GET',
      egressPath(`http/127.0.0.1:${upstream.port}/api/stall`)
    );
    // The head came (200): the body is cut, so the caller sees it end short.
    expect(answer.status).toBe(200);
    expect(answer.head).toBe('partial');
    expect(answer.complete).toBe(false);
    expect(Date.now() - started).toBeLessThan(3000);
    const [event] = (await broker.request('GET', '/api/v1/events?limit=1')).json.events;
    expect(event).toMatchObject({
      type: 'egress',
      path: '/api/stall',
      status: 200,
      outcome: 'error',
      code: 'upstream_unavailable',
      bytes_out: 'partial'.length
    });
  });

  test('a body announced over egress_max_request_bytes is 413 before any token or upstream call', async () => {
    broker.advance(300);
    const calls = tokenCalls();
    const seen = upstream.seen.length;
    const answer = await call('PUT', 'api/upload', {
      raw: Buffer.alloc(1001),
      contentType: 'application/octet-stream'
    });
    expect(answer.status).toBe(413);
    expect(answer.headers['x-token-broker-error']).toBe('payload_too_large');
    expect(tokenCalls()).toBe(calls);
    expect(upstream.seen.length).toBe(seen);
  });
});

describe('a refused call with a large body', () => {
  test('is answered to a caller that writes its whole body before it reads (as tornado does), on a kept connection', async () => {
    const size = 8 * 1024 * 1024;
    const socket = connect(broker.socket);
    await new Promise(resolve => socket.once('connect', resolve));
    const received: Buffer[] = [];
    socket.on('data', chunk => received.push(chunk));
    const errors: unknown[] = [];
    socket.on('error', err => errors.push(err));
    const target = egressPath(`http/127.0.0.1:${upstream.port}/outside/x`);
    socket.write(
      `POST ${target} HTTP/1.1\r\nhost: broker\r\nx-broker-key: ${broker.key}\r\n` +
        `content-type: application/octet-stream\r\ncontent-length: ${size}\r\n\r\n`
    );
    await new Promise<void>(resolve => socket.write(Buffer.alloc(size, 0x61), () => resolve()));
    for (let i = 0; i < 50 && !Buffer.concat(received).includes('}'); i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    socket.destroy();
    const text = Buffer.concat(received).toString('utf8');
    expect(errors).toEqual([]);
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text).toMatch(/x-token-broker-error: egress_not_allowed/i);
    expect(text).toMatch(/connection: keep-alive/i);
  });
});

describe('limits', () => {
  test('a chunked body that grows over egress_max_request_bytes is refused 413 and the upstream never gets it whole', async () => {
    const answer = await streamRequest(
      broker,
      'POST',
      egressPath(`http/127.0.0.1:${upstream.port}/api/upload`),
      {
        headers: { 'content-type': 'application/octet-stream' },
        body: Readable.from([Buffer.alloc(800), Buffer.alloc(800), Buffer.alloc(800)])
      }
    );
    expect(answer.status).toBe(413);
    expect(answer.headers['x-token-broker-error']).toBe('payload_too_large');
    expect(upstream.uploaded).not.toBe(2400);
  });

  test('an answer over egress_max_response_bytes is cut there and audited', async () => {
    const answer = await streamRequest(
      broker,
      'GET',
      egressPath(`http/127.0.0.1:${upstream.port}/api/stream?bytes=1000000`)
    );
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(false);
    expect(answer.bytes).toBeLessThanOrEqual(100000);
    const [event] = (await broker.request('GET', '/api/v1/events?limit=1')).json.events;
    expect(event).toMatchObject({
      type: 'egress',
      outcome: 'error',
      code: 'payload_too_large',
      reason: 'response cut at egress_max_response_bytes (100000 bytes)'
    });
    expect(event.bytes_out).toBeLessThanOrEqual(100000);
  });

  test('HEAD passes the head only', async () => {
    const answer = await call('HEAD', 'api/stream?bytes=4096');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe('4096');
    expect(answer.text).toBe('');
  });
});

describe('who may call', () => {
  test('an admin caller is 403 forbidden, and nothing reaches the upstream', async () => {
    const seen = upstream.seen.length;
    const answer = await call('GET', 'api/echo', { headers: { 'x-broker-caller': 'admin' } });
    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe('forbidden');
    expect(answer.headers['x-token-broker-error']).toBe('forbidden');
    expect(upstream.seen.length).toBe(seen);
  });

  test('a plugin without the user consent is refused as for a token; with it, it goes through', async () => {
    const plugin = '@acme/archive:plugin';
    const seen = upstream.seen.length;
    const refused = await call('GET', 'api/echo', { headers: { 'x-broker-client': plugin } });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe('consent_required');
    expect(refused.headers['x-token-broker-error']).toBe('consent_required');
    expect(upstream.seen.length).toBe(seen);
    const decided = await broker.request('PUT', '/api/v1/consents', {
      headers: { 'x-broker-client': 'jupyterlab' },
      body: { client: plugin, provider: 'demo', decision: 'allow' }
    });
    expect(decided.status).toBe(204);
    const allowed = await call('GET', 'api/echo', { headers: { 'x-broker-client': plugin } });
    expect(allowed.status).toBe(200);
  });
});

describe('the audit trail and the metrics', () => {
  test('every call is one egress event: provider, client, method, origin, path without query, status, bytes, duration', async () => {
    const ok = await call('POST', 'api/upload?token=not-in-the-trail', {
      raw: 'twelve bytes',
      contentType: 'text/plain',
      headers: { 'x-broker-client': 'kernel' }
    });
    expect(ok.status).toBe(201);
    const refused = await broker.request(
      'GET',
      egressPath(`http/127.0.0.1:${upstream.port}/admin/x?q=1`),
      { headers: { 'x-broker-client': 'kernel' } }
    );
    expect(refused.status).toBe(403);
    const { events } = (await broker.request('GET', '/api/v1/events?limit=2')).json;
    expect(events[1]).toEqual({
      time: expect.any(String),
      type: 'egress',
      provider: 'demo',
      client: 'kernel',
      scopes: null,
      outcome: 'ok',
      method: 'POST',
      origin: upstream.origin,
      path: '/api/upload',
      status: 201,
      bytes_in: 12,
      bytes_out: ok.text.length,
      duration_ms: expect.any(Number)
    });
    expect(events[0]).toMatchObject({
      type: 'egress',
      provider: 'demo',
      client: 'kernel',
      outcome: 'denied',
      code: 'egress_not_allowed',
      method: 'GET',
      origin: upstream.origin,
      path: '/admin/x',
      status: 403,
      bytes_in: 0,
      bytes_out: 0
    });
    expect(JSON.stringify(events)).not.toContain('not-in-the-trail');
    const metrics = (await broker.request('GET', '/metrics')).text;
    expect(metrics).toMatch(/token_broker_egress_calls_total\{outcome="ok",provider="demo"\} \d+/);
    expect(metrics).toMatch(
      /token_broker_egress_calls_total\{outcome="denied",provider="demo"\} \d+/
    );
    expect(metrics).toMatch(
      /token_broker_egress_bytes_total\{direction="in",provider="demo"\} \d+/
    );
  });

  test('the provider list shows the egress prefixes and that the token is exposed', async () => {
    const { providers } = (await broker.request('GET', '/api/v1/providers')).json;
    expect(providers[0]).toMatchObject({
      id: 'demo',
      egress: [`${upstream.origin}/api/`, `http://127.0.0.1:${downPort}/down/`],
      expose_token: true
    });
  });
});

describe('no token material', () => {
  test('no token the upstream was sent is in any answer but the echo of its own request, any log line or the audit trail', async () => {
    const tokens = [...new Set(upstream.seen.map(seen => seen.token).filter(t => t !== undefined))];
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    // The echo route repeats the request's headers back on purpose: every other answer is checked.
    const others = answers.filter(text => !text.includes('"url":"/api/'));
    expect(others.length).toBeGreaterThan(10);
    const { events } = (await broker.request('GET', '/api/v1/events?limit=1000')).json;
    const trail = JSON.stringify(events);
    const logs = broker.logs.join('\n');
    for (const token of tokens) {
      for (const text of others) expect(text).not.toContain(token as string);
      expect(logs).not.toContain(token as string);
      expect(trail).not.toContain(token as string);
    }
  });
});

describe('expose_token false', () => {
  test('the token route answers 403 token_not_exposed; the egress still calls with the token', async () => {
    const sealed = await startBroker(idp, {
      provider: { egress: [`${upstream.origin}/api/`], expose_token: false }
    });
    try {
      expect((await sealed.login()).status).toBe(200);
      const refused = await sealed.request('POST', '/api/v1/providers/demo/token', { body: {} });
      expect(refused.status).toBe(403);
      expect(refused.json.error).toBe('token_not_exposed');
      expect(refused.headers['x-token-broker-error']).toBe('token_not_exposed');
      expect(refused.json.error_description).toContain("broker_session('demo')");
      expect(refused.text).not.toMatch(/access_token/);
      const through = await sealed.request(
        'GET',
        egressPath(`http/127.0.0.1:${upstream.port}/api/echo`)
      );
      expect(through.status).toBe(200);
      expect(upstream.seen.at(-1)?.valid).toBe(true);
      const { providers } = (await sealed.request('GET', '/api/v1/providers')).json;
      expect(providers[0].expose_token).toBe(false);
      const [denial] = (await sealed.request('GET', '/api/v1/events?limit=5')).json.events.filter(
        (e: { code?: string }) => e.code === 'token_not_exposed'
      );
      expect(denial).toMatchObject({ type: 'denial', outcome: 'denied' });
    } finally {
      await sealed.close();
    }
  });
});
