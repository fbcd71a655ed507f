/**
 * Issue 11, defect 5: a narrowed token request must never shrink what later requests can get. Against
 * the test IdP (oidc-provider, which keeps a refresh token's scope) and its `bindRefreshScope` mode
 * (the rotated refresh token is bound to the narrowed scope, as Django OAuth Toolkit does).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startGrantsIdP, TOKEN_EXCHANGE, type GrantsIdP } from '../fixtures/grantsIdp.js';
import { REDIRECT_URI, SCOPES } from '../fixtures/idp.js';

/** What a sign-in asking every scope is granted: oidc-provider's access tokens never name offline_access. */
const GRANTED = SCOPES.filter(s => s !== 'offline_access');

/** A public client that may also exchange its own access tokens (narrowing `exchange`). */
const EXCHANGING_CLIENT = 'narrowing-client';

let idp: GrantsIdP;
let broker: TestBroker | undefined;

beforeAll(async () => {
  idp = await startGrantsIdP({
    clients: [
      {
        client_id: EXCHANGING_CLIENT,
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE],
        response_types: ['code']
      }
    ]
  });
});
afterEach(async () => {
  await broker?.close();
  broker = undefined;
  idp.bindRefreshScope = false;
  idp.ignoreRefreshScope = false;
});
afterAll(async () => {
  await idp.close();
});

/** A signed-in broker whose `demo` provider has these extra options. */
async function signedIn(provider: Record<string, unknown> = {}): Promise<TestBroker> {
  broker = await startBroker(idp, { provider });
  expect((await broker.login()).status).toBe(200);
  return broker;
}

function token(b: TestBroker, body: Record<string, unknown> = {}) {
  return b.request('POST', '/api/v1/providers/demo/token', { body });
}

async function listedScopes(b: TestBroker): Promise<string[]> {
  const list = await b.request('GET', '/api/v1/providers');
  return list.json.providers.find((p: { id: string }) => p.id === 'demo').scopes;
}

/** Past the default token's expiry (the test IdP's tokens live 120 s), so the next request refreshes. */
function expire(b: TestBroker): void {
  b.advance(200);
}

describe('the default narrowing (kind oidc: refuse)', () => {
  test('at an IdP that binds refresh tokens to the narrowed scope, a narrowed request is refused and email stays available', async () => {
    idp.bindRefreshScope = true;
    const b = await signedIn();
    const refreshes = idp.refreshes;
    const narrow = await token(b, { scopes: ['demo:read'] });
    expect(narrow.status).toBe(403);
    expect(narrow.json.error).toBe('scope_not_allowed');
    expect(narrow.json.error_description).toContain('narrowing');
    expect(idp.refreshes).toBe(refreshes);

    expire(b);
    const full = await token(b);
    expect(full.status).toBe(200);
    expect(full.json.scopes).toEqual(GRANTED);
    expect((await token(b, { scopes: ['email'] })).status).toBe(403);
    expect(await listedScopes(b)).toEqual(GRANTED);
  });

  test('the provider list says how each provider narrows, so the panel offers no subset it would refuse', async () => {
    const b = await signedIn();
    const list = await b.request('GET', '/api/v1/providers');
    expect(list.json.providers[0]).toMatchObject({ id: 'demo', narrowing: 'refuse' });
    await b.close();
    broker = await startBroker(idp, { provider: { narrowing: 'exchange' } });
    const again = await broker.request('GET', '/api/v1/providers');
    expect(again.json.providers[0].narrowing).toBe('exchange');
  });

  test('asking every scope of the grant is the grant’s own token, not a narrowed one', async () => {
    const b = await signedIn();
    const own = await token(b);
    expect(own.json.scopes).toEqual(GRANTED);
    const named = await token(b, { scopes: [...GRANTED].reverse() });
    expect(named.status).toBe(200);
    expect(named.json.access_token).toBe(own.json.access_token);
  });
});

describe('narrowing "refresh"', () => {
  test('oidc-provider keeps the refresh token’s scope: a narrowed token, then the default one still carries every scope', async () => {
    const b = await signedIn({ narrowing: 'refresh' });
    expire(b);
    const narrow = await token(b, { scopes: ['demo:read'] });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scopes).toEqual(['demo:read']);
    expire(b);
    const full = await token(b);
    expect(full.status).toBe(200);
    expect(full.json.scopes).toEqual(GRANTED);
    expect(await listedScopes(b)).toEqual(GRANTED);
  });

  test('an IdP that shrank the grant is noticed at the next default refresh: the list, the audit trail and the log tell the real scopes', async () => {
    idp.bindRefreshScope = true;
    const b = await signedIn({ narrowing: 'refresh' });
    expect((await token(b, { scopes: ['demo:read'] })).status).toBe(200);
    expire(b);
    const full = await token(b);
    expect(full.status).toBe(200);
    expect(full.json.scopes).toEqual(['demo:read']);

    expect(await listedScopes(b)).toEqual(['demo:read']);
    expect((await b.context.store.get('demo'))?.scopes).toEqual(['demo:read']);
    const email = await token(b, { scopes: ['email'] });
    expect(email.status).toBe(403);
    expect(email.json.error_description).toMatch(/did not grant email; sign in again/);
    const events = await b.request('GET', '/api/v1/events?limit=20&provider=demo');
    const reduced = events.json.events.find((e: { reason?: string }) =>
      e.reason?.includes('reduced the grant')
    );
    expect(reduced).toMatchObject({ type: 'refresh', outcome: 'ok', scopes: ['demo:read'] });
    expect(reduced.reason).toContain('email');
    const warning = b.logs.find(line => line.includes('grant_scopes_reduced'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning as string)).toMatchObject({
      level: 'warn',
      lost: expect.arrayContaining(['email'])
    });
  });

  test('a wider answer to a narrowed refresh is refused, but its rotated refresh token is kept: the grant lives on', async () => {
    idp.ignoreRefreshScope = true;
    const b = await signedIn({ narrowing: 'refresh' });
    const before = (await b.context.store.get('demo'))?.refreshToken;
    const narrow = await token(b, { scopes: ['demo:read'] });
    expect(narrow.status).toBe(502);
    expect(narrow.json.error).toBe('upstream_error');
    const after = (await b.context.store.get('demo'))?.refreshToken;
    expect(after).not.toBe(before);

    expire(b);
    const failures = idp.refreshFailures;
    const full = await token(b);
    expect(full.status).toBe(200);
    expect(idp.refreshFailures).toBe(failures);
  });
});

describe('narrowing "exchange"', () => {
  test('a narrowed token comes from a token exchange; even an IdP that binds refresh tokens keeps the whole grant', async () => {
    idp.bindRefreshScope = true;
    const b = await signedIn({ client_id: EXCHANGING_CLIENT, narrowing: 'exchange' });
    const exchanges = idp.exchanges.length;
    const narrow = await token(b, { scopes: ['demo:read'] });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scopes).toEqual(['demo:read']);
    expect(idp.exchanges.length).toBe(exchanges + 1);
    expect(idp.exchanges.at(-1)).toMatchObject({ subjectAccount: 'alice', scope: 'demo:read' });
    expect(narrow.json.access_token).toBe(idp.exchanges.at(-1)?.accessToken);
    // Served from the cache the second time.
    expect((await token(b, { scopes: ['demo:read'] })).json.access_token).toBe(
      narrow.json.access_token
    );

    expire(b);
    expect((await token(b, { scopes: ['demo:read'] })).status).toBe(200);
    expect(b.upstreamBodies.some(body => /grant_type=refresh_token[^]*scope=/.test(body))).toBe(
      false
    );
    const full = await token(b);
    expect(full.json.scopes).toEqual(GRANTED);
    expect(await listedScopes(b)).toEqual(GRANTED);
  });

  test('an IdP that refuses the exchange gets a narrowed request refused, naming the narrowing to set; the grant is whole', async () => {
    const b = await signedIn({ narrowing: 'exchange' }); // test-client may not exchange
    const narrow = await token(b, { scopes: ['demo:read'] });
    expect([narrow.status, narrow.json.error]).toEqual([502, 'upstream_error']);
    expect(narrow.json.error_description).toMatch(/token exchange/);
    expect(narrow.json.error_description).toMatch(/"narrowing"/);
    expire(b);
    expect((await token(b)).json.scopes).toEqual(GRANTED);
  });
});
