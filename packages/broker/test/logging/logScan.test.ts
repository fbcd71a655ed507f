import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

let idp: IdP;
let broker: TestBroker;

beforeAll(async () => {
  idp = await startIdP();
  idp.accessTokenTtl = 60;
  // A narrowed refresh is in the flow too (oidc-provider keeps the refresh token's scope).
  broker = await startBroker(idp, { provider: { narrowing: 'refresh' } });
});
afterAll(async () => {
  await broker.close();
  await idp.close();
});

/** Every value of a secret-carrying field in what the broker exchanged with the IdP. */
function secretsIn(bodies: string[]): Set<string> {
  const names = ['access_token', 'refresh_token', 'id_token', 'code', 'code_verifier'];
  const found = new Set<string>();
  for (const body of bodies) {
    let fields: Record<string, unknown> = {};
    try {
      fields = JSON.parse(body) as Record<string, unknown>;
    } catch {
      fields = Object.fromEntries(new URLSearchParams(body));
    }
    for (const name of names) {
      if (typeof fields[name] === 'string') found.add(fields[name] as string);
    }
  }
  return found;
}

describe('log output', () => {
  test('a full flow logs no token, refresh token, code, verifier or key', async () => {
    const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
    const redirect = await idp.authorize(started.json.authorization_url);
    const code = redirect.searchParams.get('code') as string;
    expect((await broker.request('GET', `/api/v1/callback${redirect.search}`)).status).toBe(200);
    const first = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    broker.advance(45);
    const refreshed = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(refreshed.json.access_token).not.toBe(first.json.access_token);
    await broker.request('POST', '/api/v1/providers/demo/token', {
      body: { scopes: ['demo:read'] }
    });
    await broker.request('POST', '/api/v1/providers/demo/token', { raw: '{bad' });
    await broker.request('GET', `/api/v1/callback${redirect.search}`);
    await idp.revokeAll();
    broker.advance(100);
    await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    await broker.request('DELETE', '/api/v1/providers/demo/grant');

    const secrets = secretsIn(broker.upstreamBodies);
    secrets.add(code);
    secrets.add(first.json.access_token);
    secrets.add(refreshed.json.access_token);
    secrets.add(broker.key);
    const verifiers = broker.upstreamBodies
      .map(b => new URLSearchParams(b).get('code_verifier'))
      .filter((v): v is string => v !== null);
    expect(verifiers.length).toBeGreaterThan(0);
    expect([...secrets].filter(s => s.length >= 16).length).toBeGreaterThanOrEqual(6);

    const output = broker.logs.join('\n');
    expect(broker.logs.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      expect(output).not.toContain(secret);
    }
    for (const line of broker.logs) expect(() => JSON.parse(line)).not.toThrow();
    expect(output).toContain('"event":"token_refreshed"');
    expect(output).toContain('"event":"grant_ended"');
  });
});
