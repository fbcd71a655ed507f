import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { validateConfig } from '../../src/config.js';
import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';

// A stand-in for the hub's route of `jupyter_token_broker.hub`, speaking exactly the contract's wire
// format: `GET /hub/api/token-broker/v1/users/{name}/token?min_ttl=N` with
// `Authorization: token <server token>`; 200 `{access_token, token_type, expires_at, scope}` with
// no-store; errors `{error, error_description}`: 400 invalid_request, 401 login_required,
// 403 forbidden, 404 unknown_user, 503 upstream_unavailable with Retry-After.
const SERVER_TOKEN = 'hub-server-token-7f3a9c1e5b2d4f6a8c0e';
const USER = 'alice';
const SCOPE = 'openid profile demo:read';

interface HubCall {
  readonly minTtl: string | null;
  readonly authorization: string | undefined;
}

interface FakeHub {
  readonly apiUrl: string;
  readonly calls: HubCall[];
  /** IdP refreshes the hub made. */
  refreshes: number;
  /** Lifetime of the IdP's access tokens, in seconds. */
  lifetime: number;
  mode: 'ok' | 'login_required' | 'unavailable';
  /** Milliseconds the hub takes to answer. */
  delayMs: number;
  /** Seconds the hub's clock is ahead of the real one (kept equal to the broker's). */
  offset: number;
  /** Forgets the IdP token and every setting (a fresh hub login). */
  reset(): void;
  close(): Promise<void>;
}

function json(
  res: import('node:http').ServerResponse,
  status: number,
  body: unknown,
  headers = {}
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    ...headers
  });
  res.end(JSON.stringify(body));
}

async function startFakeHub(): Promise<FakeHub> {
  let token: { access_token: string; expires_at: number } | undefined;
  const hub: Omit<FakeHub, 'apiUrl' | 'close' | 'reset'> = {
    calls: [],
    refreshes: 0,
    lifetime: 300,
    mode: 'ok',
    delayMs: 0,
    offset: 0
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://hub');
    hub.calls.push({
      minTtl: url.searchParams.get('min_ttl'),
      authorization: req.headers.authorization
    });
    setTimeout(() => {
      const match = /^\/hub\/api\/token-broker\/v1\/users\/([^/]+)\/token$/.exec(url.pathname);
      if (match === null)
        return json(res, 404, { error: 'not_found', error_description: 'No such route.' });
      if (req.headers.authorization !== `token ${SERVER_TOKEN}`) {
        return json(res, 403, {
          error: 'forbidden',
          error_description: 'The token lacks the scope.'
        });
      }
      if (decodeURIComponent(match[1]) !== USER) {
        return json(res, 404, { error: 'unknown_user', error_description: 'No such user.' });
      }
      const raw = url.searchParams.get('min_ttl') ?? '30';
      const minTtl = Number(raw);
      if (!/^\d+$/.test(raw)) {
        return json(res, 400, {
          error: 'invalid_request',
          error_description: 'min_ttl must be an integer.'
        });
      }
      if (minTtl > hub.lifetime) {
        return json(res, 400, {
          error: 'invalid_request',
          error_description: `min_ttl ${minTtl} is longer than the identity provider's token lifetime (${hub.lifetime} s).`
        });
      }
      if (hub.mode === 'login_required') {
        return json(res, 401, {
          error: 'login_required',
          error_description: 'Your hub login has ended: log in to JupyterHub again.'
        });
      }
      if (hub.mode === 'unavailable') {
        return json(
          res,
          503,
          {
            error: 'upstream_unavailable',
            error_description: 'The identity provider is unreachable.'
          },
          { 'Retry-After': '7' }
        );
      }
      const now = Math.floor(Date.now() / 1000) + hub.offset;
      if (token === undefined || token.expires_at - now < minTtl) {
        hub.refreshes++;
        token = {
          access_token: `hub-access-${hub.refreshes}-${now}`,
          expires_at: now + hub.lifetime
        };
      }
      json(res, 200, { ...token, token_type: 'Bearer', scope: SCOPE });
    }, hub.delayMs);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(hub, {
    apiUrl: `http://127.0.0.1:${port}/hub/api`,
    reset: () => {
      token = undefined;
      Object.assign(hub, { mode: 'ok', delayMs: 0, lifetime: 300, offset: 0 });
    },
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  });
}

let hub: FakeHub;
const brokers: TestBroker[] = [];

beforeAll(async () => {
  hub = await startFakeHub();
});
afterAll(async () => {
  await hub.close();
});
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.close();
  hub.reset();
});

function hubProvider(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'hub',
    title: 'Keycloak (hub login)',
    kind: 'hub',
    token_url: `${hub.apiUrl}/token-broker/v1/users/${USER}/token`,
    hub_api_token: SERVER_TOKEN,
    ...fields
  };
}

/** A broker whose only provider is the hub login; its clock and the hub's move together. */
async function broker(config: Record<string, unknown> = {}): Promise<TestBroker> {
  const b = await startBroker(null, { providers: [hubProvider()], config });
  brokers.push(b);
  const advance = b.advance.bind(b);
  b.advance = seconds => {
    advance(seconds);
    hub.offset += seconds;
  };
  return b;
}

function token(
  b: TestBroker,
  body: Record<string, unknown> = {},
  client = 'kernel'
): Promise<Answer> {
  return b.request('POST', '/api/v1/providers/hub/token', {
    body,
    headers: { 'x-broker-client': client }
  });
}

function callsSince(start: number): HubCall[] {
  return hub.calls.slice(start);
}

describe('kind hub: tokens of the JupyterHub login, from the hub', () => {
  test('the provider list shows the hub login signed in, with the hub user, expiry and scopes, without a login', async () => {
    const b = await broker();
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.status).toBe(200);
    const [entry] = list.json.providers;
    expect(entry).toMatchObject({
      id: 'hub',
      title: 'Keycloak (hub login)',
      kind: 'hub',
      grant: 'hub',
      signed_in: true,
      account: 'alice',
      scopes: SCOPE.split(' '),
      needs_login: false
    });
    expect(entry.expires_at).toBeGreaterThan(Date.now() / 1000 + 200);
    expect(entry.error).toBeUndefined();
    expect(JSON.stringify(list.json)).not.toContain('hub-access-');
    // A sign-in through the broker is refused: the hub signs the user in.
    const login = await b.request('POST', '/api/v1/providers/hub/login', { body: {} });
    expect(login.status).toBe(400);
    expect(login.json.error).toBe('invalid_request');
    expect(login.json.error_description).toMatch(/log in to JupyterHub/);
  });

  test('hands out the hub token with the server token, then from the cache; audited and counted', async () => {
    const b = await broker();
    const start = hub.calls.length;
    const first = await token(b);
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.json).toMatchObject({
      token_type: 'Bearer',
      scopes: SCOPE.split(' '),
      provider: 'hub'
    });
    expect(first.json.access_token).toMatch(/^hub-access-/);
    expect(first.json.refresh_token).toBeUndefined();
    const second = await token(b, { min_ttl: 60 });
    expect(second.json.access_token).toBe(first.json.access_token);
    // One hub call for both, carrying the server's token.
    expect(callsSince(start)).toEqual([{ minTtl: '30', authorization: `token ${SERVER_TOKEN}` }]);

    const events = await b.request('GET', '/api/v1/events?provider=hub');
    const kinds = events.json.events.map(
      (e: { type: string; outcome: string }) => `${e.type} ${e.outcome}`
    );
    expect(kinds.filter((k: string) => k === 'issue ok')).toHaveLength(2);
    expect(kinds).toContain('refresh ok');
    const metrics = await b.request('GET', '/metrics');
    expect(metrics.text).toMatch(
      /token_broker_tokens_issued_total\{outcome="ok",provider="hub"\} 2/
    );
    expect(metrics.text).toMatch(/token_broker_token_cache_hits_total\{provider="hub"\} 1/);
    expect(metrics.text).toMatch(/token_broker_refreshes_total\{outcome="ok",provider="hub"\} 1/);
  });

  test('single-flight: 12 concurrent token requests make one hub call', async () => {
    const b = await broker();
    hub.delayMs = 200;
    const start = hub.calls.length;
    const answers = await Promise.all(Array.from({ length: 12 }, () => token(b)));
    expect(answers.map(a => a.status)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map(a => a.json.access_token)).size).toBe(1);
    expect(callsSince(start)).toHaveLength(1);
  });

  test('min_ttl is forwarded: a caller needing more than the cached token has left gets a new one', async () => {
    const b = await broker();
    const start = hub.calls.length;
    const first = await token(b, { min_ttl: 120 });
    expect(first.status).toBe(200);
    b.advance(200); // 100 s left: fine for 60, not for 120
    const cached = await token(b, { min_ttl: 60 });
    expect(cached.json.access_token).toBe(first.json.access_token);
    const fresh = await token(b, { min_ttl: 120 });
    expect(fresh.status).toBe(200);
    expect(fresh.json.access_token).not.toBe(first.json.access_token);
    expect(fresh.json.expires_in).toBeGreaterThanOrEqual(120);
    expect(callsSince(start).map(c => c.minTtl)).toEqual(['120', '120']);
  });

  test("a min_ttl longer than the hub can give: 400 with the hub's description", async () => {
    const b = await broker();
    hub.lifetime = 60;
    const answer = await token(b, { min_ttl: 90 });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
    expect(answer.json.error_description).toContain(
      "min_ttl 90 is longer than the identity provider's token lifetime (60 s)"
    );
  });

  test('tokens shorter-lived than the refresh margin: asked for what the caller needs, once the hub said so', async () => {
    const b = await broker();
    hub.lifetime = 20; // shorter than the 30 s refresh margin
    const start = hub.calls.length;
    for (let i = 0; i < 3; i++) {
      const answer = await token(b, { min_ttl: 10 });
      expect(answer.status).toBe(200);
    }
    // The margin (30) once, refused; then the caller's 10, once: the margin is at most half a token's
    // lifetime (10 s of this 20 s token), so the token serves the next requests (it was asked again on
    // every request while the whole 30 s margin applied).
    expect(callsSince(start).map(c => c.minTtl)).toEqual(['30', '10']);
  });

  test('scopes: a subset of what the hub token carries is served, anything else is refused', async () => {
    const b = await broker();
    const subset = await token(b, { scopes: ['demo:read'] });
    expect(subset.status).toBe(200);
    const start = hub.calls.length;
    const wider = await token(b, { scopes: ['demo:read', 'demo:write'] });
    expect(wider.status).toBe(403);
    expect(wider.json.error).toBe('scope_not_allowed');
    expect(wider.json.error_description).toContain("'demo:write'");
    expect(callsSince(start)).toHaveLength(0);
  });

  test('a hub that is down shows in the first provider list', async () => {
    hub.mode = 'unavailable';
    const b = await broker();
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      signed_in: true,
      needs_login: false,
      expires_at: null,
      error: { code: 'upstream_unavailable', description: expect.any(String) }
    });
  });

  test("an admin's revocation shows at once in the provider list: the hub is asked again, not the old token reported", async () => {
    // Seen on a real hub: after the hub admin revoked alice, her running server still listed the
    // hub login as held (scopes, no login needed) until a kernel next asked for a token.
    const b = await broker();
    expect((await token(b)).status).toBe(200);
    hub.mode = 'login_required';
    const revoke = await b.request('POST', '/api/v1/admin/revoke', {
      body: { provider: 'hub', reason: 'incident 42' },
      headers: { 'x-broker-caller': 'admin', 'x-broker-client': 'jupyterhub-admin' }
    });
    expect(revoke.status).toBe(200);
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      needs_login: true,
      expires_at: null,
      error: { code: 'login_required' }
    });
    hub.mode = 'ok';
  });

  test('hub says the login ended: 401 login_required, the list says so; a new hub login brings tokens back', async () => {
    const b = await broker();
    expect((await token(b)).status).toBe(200);
    hub.mode = 'login_required';
    b.advance(290); // the cached token is inside the refresh margin and too short for min_ttl 30
    const ended = await token(b);
    expect(ended.status).toBe(401);
    expect(ended.json.error).toBe('login_required');
    expect(ended.json.error_description).toMatch(/log in to JupyterHub again/);
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      signed_in: true,
      needs_login: true,
      error: { code: 'login_required', description: expect.stringMatching(/JupyterHub/) }
    });
    hub.mode = 'ok';
    const back = await token(b);
    expect(back.status).toBe(200);
    const again = await b.request('GET', '/api/v1/providers');
    expect(again.json.providers[0]).toMatchObject({ needs_login: false });
    expect(again.json.providers[0].error).toBeUndefined();
  });

  test('hub unavailable: 503 upstream_unavailable with its Retry-After, no hub call before then, cached tokens still served', async () => {
    const b = await broker();
    expect((await token(b)).status).toBe(200);
    hub.mode = 'unavailable';
    b.advance(280); // 20 s left: inside the margin, still good for min_ttl 10
    const start = hub.calls.length;
    const kept = await token(b, { min_ttl: 10 });
    expect(kept.status).toBe(200);
    const refused = await token(b, { min_ttl: 30 });
    expect(refused.status).toBe(503);
    expect(refused.json.error).toBe('upstream_unavailable');
    // The kernel and the panel show only the message: it says why (the hub's words) and when to retry.
    expect(refused.json.error_description).toMatch(
      /The identity provider is unreachable\. Try again in [1-7] s\./
    );
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(7);
    // The 503 came from the first call; the second waited for Retry-After instead of asking again.
    expect(callsSince(start)).toHaveLength(1);
    hub.mode = 'ok';
    b.advance(8);
    expect((await token(b)).status).toBe(200);
  });

  test('sign-out of the hub login is refused with 403 forbidden "managed by the hub", and audited', async () => {
    const b = await broker();
    expect((await token(b)).status).toBe(200);
    const refused = await b.request('DELETE', '/api/v1/providers/hub/grant');
    expect(refused.status).toBe(403);
    expect(refused.json).toEqual({
      error: 'forbidden',
      error_description: "Provider 'hub' is managed by the hub: sign out of JupyterHub to end it."
    });
    const events = await b.request('GET', '/api/v1/events?provider=hub');
    expect(events.json.events[0]).toMatchObject({
      type: 'denial',
      outcome: 'denied',
      code: 'forbidden'
    });
    // Nothing was forgotten.
    const start = hub.calls.length;
    expect((await token(b)).status).toBe(200);
    expect(callsSince(start)).toHaveLength(0);
  });

  test('the server token appears in no answer, log line, audit event or metric', async () => {
    const b = await broker();
    const answers: Answer[] = [];
    answers.push(await b.request('GET', '/api/v1/providers'));
    answers.push(await token(b));
    hub.mode = 'login_required';
    b.advance(290);
    answers.push(await token(b));
    hub.mode = 'unavailable';
    answers.push(await token(b));
    answers.push(await b.request('DELETE', '/api/v1/providers/hub/grant'));
    answers.push(await b.request('POST', '/api/v1/providers/hub/login', { body: {} }));
    answers.push(await b.request('GET', '/api/v1/providers'));
    answers.push(await b.request('GET', '/api/v1/events?limit=1000'));
    answers.push(await b.request('GET', '/metrics'));
    for (const answer of answers) {
      expect(answer.text).not.toContain(SERVER_TOKEN);
      expect(JSON.stringify(answer.headers)).not.toContain(SERVER_TOKEN);
    }
    expect(b.logs.length).toBeGreaterThan(0);
    expect(b.logs.join('\n')).not.toContain(SERVER_TOKEN);
    // The config object itself never shows it.
    const config = validateConfig({ providers: [hubProvider()] });
    expect(JSON.stringify(config)).not.toContain(SERVER_TOKEN);
    expect(String(config.providers[0].hub?.hub_api_token)).toBe('[secret]');
  });
});

describe('kind hub: config', () => {
  test('options are checked, naming the key and never quoting the token', () => {
    expect(() =>
      validateConfig({ providers: [hubProvider({ token_url: 'ftp://hub/x' })] })
    ).toThrow(/token_url: must be an http\(s\) URL/);
    expect(() =>
      validateConfig({ providers: [hubProvider({ hub_api_token: undefined })] })
    ).toThrow(/hub_api_token/);
    const spaced = 'has a space in it 0123456789';
    let message = '';
    try {
      validateConfig({ providers: [hubProvider({ hub_api_token: spaced })] });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/hub_api_token/);
    expect(message).not.toContain(spaced);
    expect(() => validateConfig({ providers: [hubProvider({ client_id: 'x' })] })).toThrow(
      /client_id/
    );
    // In a cluster the hub API is plain http on another host (JUPYTERHUB_API_URL=http://hub:8081/hub/api).
    const inCluster = validateConfig({
      providers: [
        hubProvider({ token_url: 'http://hub:8081/hub/api/token-broker/v1/users/a%40b.org/token' })
      ]
    });
    expect(inCluster.providers[0].hub?.account).toBe('a@b.org');
    expect(() =>
      validateConfig({
        providers: [
          hubProvider(),
          {
            id: 'api',
            kind: 'oauth2',
            client_id: 'c',
            client_secret_file: '/x',
            token_endpoint: 'https://idp.example.org/token',
            scopes: ['a'],
            token_exchange: { subject_provider: 'hub' }
          }
        ]
      })
    ).toThrow(/subject_provider/);
  });
});

/**
 * A resource server on 127.0.0.1 that accepts only the token the fake hub hands out now (`current`
 * set by the test), as an API behind the hub's IdP would accept only live tokens.
 */
async function startHubApi(): Promise<{
  origin: string;
  seen: (string | undefined)[];
  accept: (token: string | undefined) => void;
  close(): Promise<void>;
}> {
  const seen: (string | undefined)[] = [];
  let accepted: string | undefined;
  const server = createServer((req, res) => {
    req.resume();
    seen.push(req.headers.authorization);
    if (accepted === undefined || req.headers.authorization !== `Bearer ${accepted}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"error":"invalid_token"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ user: USER, path: req.url }));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    accept: token => {
      accepted = token;
    },
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  };
}

describe('kind hub: egress (the hub admin gives the hub login an allowlist)', () => {
  let api: Awaited<ReturnType<typeof startHubApi>>;
  beforeAll(async () => {
    api = await startHubApi();
  });
  afterAll(async () => {
    await api.close();
  });

  async function egressBroker(fields: Record<string, unknown> = {}): Promise<TestBroker> {
    const b = await startBroker(null, {
      providers: [hubProvider({ egress: [`${api.origin}/api/`], ...fields })]
    });
    brokers.push(b);
    return b;
  }

  function egress(b: TestBroker, path: string, method = 'GET'): Promise<Answer> {
    const authority = api.origin.slice('http://'.length);
    return b.request(method, `/api/v1/egress/hub/http/${authority}/${path}`, {
      headers: { 'x-broker-client': 'kernel' }
    });
  }

  test("a call reaches the allowlisted API with the hub login's token; the list shows the egress", async () => {
    const b = await egressBroker();
    const issued = await token(b);
    expect(issued.status).toBe(200);
    api.accept(issued.json.access_token);
    const answer = await egress(b, 'api/whoami?x=1');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ user: USER, path: '/api/whoami?x=1' });
    expect(api.seen.at(-1)).toBe(`Bearer ${issued.json.access_token}`);
    // Outside the allowlist: refused before any token is got.
    const outside = await egress(b, 'other/whoami');
    expect(outside.status).toBe(403);
    expect(outside.json.error).toBe('egress_not_allowed');
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      id: 'hub',
      egress: [`${api.origin}/api/`],
      expose_token: true
    });
    for (const text of [answer.text, outside.text, list.text, JSON.stringify(answer.headers)]) {
      expect(text).not.toContain(SERVER_TOKEN);
      expect(text).not.toContain(issued.json.access_token);
    }
  });

  test('expose_token false: the token route refuses, the egress still calls the API', async () => {
    const b = await egressBroker({ expose_token: false });
    const refused = await token(b);
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe('token_not_exposed');
    api.accept(undefined);
    // The API accepts whatever the hub hands out now: learn it from the first (refused) call.
    const first = await egress(b, 'api/whoami');
    expect(first.status).toBe(401);
    api.accept(api.seen.at(-1)?.slice('Bearer '.length));
    const answer = await egress(b, 'api/whoami');
    expect(answer.status).toBe(200);
    expect(answer.json.user).toBe(USER);
  });

  test('a 401 asks the hub again: a newer hub token is retried once; the same token: the 401 is relayed', async () => {
    const b = await egressBroker();
    const old = (await token(b)).json.access_token as string;
    // The hub refreshed the login since (its auth_refresh_age): the API takes only the new token.
    hub.reset();
    hub.offset = 1;
    api.accept(undefined);
    const start = hub.calls.length;
    const seenBefore = api.seen.length;
    let answer = await egress(b, 'api/whoami');
    // The API refused the cached token; the broker asked the hub (not its cache) and got a new one.
    expect(api.seen.slice(seenBefore)).toHaveLength(2);
    expect(api.seen[seenBefore]).toBe(`Bearer ${old}`);
    const newer = api.seen[seenBefore + 1];
    expect(newer).not.toBe(`Bearer ${old}`);
    expect(newer).toMatch(/^Bearer hub-access-/);
    expect(callsSince(start)).toHaveLength(1);
    expect(answer.status).toBe(401);
    // Now the API accepts the newer one: one call, no retry.
    api.accept(newer?.slice('Bearer '.length));
    answer = await egress(b, 'api/whoami');
    expect(answer.status).toBe(200);
    // The API refuses the hub's current token too: one hub call, one retry at most, its 401 relayed.
    api.accept('something-else');
    const again = hub.calls.length;
    const seenAgain = api.seen.length;
    answer = await egress(b, 'api/whoami');
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({ error: 'invalid_token' });
    expect(answer.headers['x-token-broker-error']).toBeUndefined();
    expect(callsSince(again)).toHaveLength(1);
    expect(api.seen.length - seenAgain).toBe(1);
  });

  test('egress entries are checked as for every provider, naming the key', () => {
    expect(() =>
      validateConfig({ providers: [hubProvider({ egress: ['http://archive.example.org/'] })] })
    ).toThrow(/provider "hub": egress\[0\]: must be https/);
    expect(() =>
      validateConfig({ providers: [hubProvider({ egress: ['https://archive.example.org/tap'] })] })
    ).toThrow(/egress\[0\].*end with "\/"/);
    expect(() => validateConfig({ providers: [hubProvider({ expose_token: false })] })).toThrow(
      /expose_token/
    );
    const config = validateConfig({
      providers: [hubProvider({ egress: ['https://Archive.example.org/tap/'] })]
    });
    expect(config.providers[0].egress[0]).toMatchObject({
      host: 'archive.example.org',
      port: 443,
      path: '/tap/'
    });
  });
});
