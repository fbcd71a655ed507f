import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import {
  API_AUDIENCE,
  OTHER_AUDIENCE,
  SERVICE_CLIENT,
  SERVICE_SECRET,
  secretFile,
  startGrantsIdP,
  type GrantsIdP
} from '../fixtures/grantsIdp.js';

let idp: GrantsIdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startGrantsIdP();
  broker = await startBroker(idp, {
    provider: {
      grant: 'client_credentials',
      client_id: SERVICE_CLIENT,
      client_secret_file: await secretFile(SERVICE_SECRET),
      scopes: ['demo:read', 'demo:write'],
      audiences: [API_AUDIENCE]
    }
  });
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

const token = (body: Record<string, unknown> = {}) =>
  broker.request('POST', '/api/v1/providers/demo/token', { body });

describe('client credentials: a service account', () => {
  test('no sign-in: listed as ready, a token on demand, cached', async () => {
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({
      grant: 'client_credentials',
      signed_in: true,
      needs_login: false
    });
    const login = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(login.status).toBe(400);

    const first = await token();
    expect(first.status).toBe(200);
    expect(first.json.scopes.sort()).toEqual(['demo:read', 'demo:write']);
    const again = await token();
    expect(again.json.access_token).toBe(first.json.access_token);
    expect(broker.upstreamCalls.filter(u => u.endsWith('/token'))).toHaveLength(1);
    // The secret went as HTTP Basic, never into a URL.
    expect(broker.upstreamCalls.some(u => u.includes(SERVICE_SECRET))).toBe(false);
  });

  test('a subset of scopes and an allowed audience give a narrowed token for that audience', async () => {
    const narrow = await token({ scopes: ['demo:read'], audience: API_AUDIENCE });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scopes).toEqual(['demo:read']);
    const stored = await idp.provider.ClientCredentials.find(narrow.json.access_token);
    expect(stored.scope).toBe('demo:read');
    expect(stored.aud).toBe(API_AUDIENCE);
  });

  test('scopes or audiences outside the allowed sets: 403 without an IdP call', async () => {
    const calls = broker.upstreamCalls.length;
    const scope = await token({ scopes: ['openid'] });
    expect(scope.status).toBe(403);
    expect(scope.json.error).toBe('scope_not_allowed');
    const audience = await token({ audience: OTHER_AUDIENCE });
    expect(audience.status).toBe(403);
    expect(audience.json.error).toBe('scope_not_allowed');
    expect(broker.upstreamCalls.length).toBe(calls);
  });

  test("a service account's calls to the IdP are timed in the metrics and audited, like refreshes", async () => {
    // Was: only refreshes were timed, so a slow IdP behind client credentials never showed.
    const fresh = await token({ audience: API_AUDIENCE });
    expect(fresh.status).toBe(200);
    expect((await token({ audience: API_AUDIENCE })).status).toBe(200);
    const metrics = (await broker.request('GET', '/metrics')).text;
    const count = metrics
      .split('\n')
      .find(l =>
        l.startsWith(
          'token_broker_upstream_duration_seconds_count{operation="client_credentials",provider="demo"} '
        )
      );
    expect(Number(count?.split(' ')[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^token_broker_token_cache_hits_total\{provider="demo"\} [1-9]/m);
    const events = await broker.request('GET', '/api/v1/events?provider=demo');
    expect(events.json.events).toContainEqual(
      expect.objectContaining({ type: 'refresh', provider: 'demo', outcome: 'ok' })
    );
    expect(JSON.stringify(events.json)).not.toContain(fresh.json.access_token);
  });

  test('an IdP that grants more than asked: 502 upstream_error, no token handed out', async () => {
    idp.widenScopeTo = 'demo:read demo:write';
    try {
      const answer = await token({ scopes: ['demo:write'], min_ttl: 5 });
      expect(answer.status).toBe(502);
      expect(answer.json.error).toBe('upstream_error');
      expect(answer.json.error_description).toMatch(/demo:read/);
      expect(answer.text).not.toMatch(/access_token/);
    } finally {
      idp.widenScopeTo = undefined;
    }
  });
  test("during an IdP outage a service account's cached token that still meets min_ttl is served", async () => {
    // Was: only sign-ins fell back to their cached token; a service account answered 503 at once.
    const first = await token({ scopes: ['demo:write'] });
    expect(first.status).toBe(200);
    broker.advance(first.json.expires_in - 20); // 20 s left, inside the refresh margin
    idp.down = true;
    try {
      const during = await token({ scopes: ['demo:write'], min_ttl: 10 });
      expect(during.status).toBe(200);
      expect(during.json.access_token).toBe(first.json.access_token);
      const longer = await token({ scopes: ['demo:write'], min_ttl: 60 });
      expect([longer.status, longer.json.error]).toEqual([503, 'upstream_unavailable']);
    } finally {
      idp.down = false;
    }
  });
});
