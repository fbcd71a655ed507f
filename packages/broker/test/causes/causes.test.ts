/**
 * Defect 8 of issue 11: a failure's answer names its cause and the fix, not a generic "not usable",
 * and never carries secret material. Each case failed before: the cause was dropped on the way.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker } from '../fixtures/broker.js';
import { startGrantsIdP, type GrantsIdP } from '../fixtures/grantsIdp.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

/** A token-shaped secret an IdP might echo in its error_description. */
const ECHOED = 'rt-9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc';

let idp: IdP;
beforeAll(async () => {
  // A realm under a path, as Keycloak serves one: there a trailing slash is a different issuer.
  idp = await startIdP({ pathPrefix: '/realms/test' });
});
afterAll(async () => {
  await idp.close();
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise(r => setTimeout(r, 100));
  }
}

describe('the answer names the cause and the fix', () => {
  test('an issuer configured with a trailing slash names both issuers and the one to set', async () => {
    const broker = await startBroker(idp, { provider: { issuer: `${idp.issuer}/` } });
    try {
      const login = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
      expect(login.status).toBe(502);
      expect(login.json.error).toBe('upstream_error');
      const said = login.json.error_description as string;
      expect(said).toContain(`'${idp.issuer}'`);
      expect(said).toContain(`'${idp.issuer}/'`);
      expect(said).toMatch(/differ only by a trailing slash/);
      expect(said).toContain(`set the provider's issuer to '${idp.issuer}'`);
      // The panel shows the provider list's problem: the same words.
      const list = await broker.request('GET', '/api/v1/providers');
      expect(list.json.providers[0].error.description).toBe(said);
    } finally {
      await broker.close();
    }
  });

  test('a timeout says it timed out and which option to raise, not "unreachable"', async () => {
    const broker = await startBroker(idp, { config: { upstream_timeout_ms: 1000 } });
    idp.hang = true;
    try {
      const login = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
      expect(login.status).toBe(503);
      expect(login.json.error).toBe('upstream_unavailable');
      expect(login.json.error_description).toMatch(/did not answer within 1000 ms/);
      expect(login.json.error_description).toMatch(/raise upstream_timeout_ms/);
      expect(login.json.error_description).not.toMatch(/unreachable/);
    } finally {
      idp.hang = false;
      await broker.close();
    }
  });

  test('an error redirect without the iss the IdP advertises says so, and what to do', async () => {
    const broker = await startBroker(idp);
    try {
      const started = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
      const state = new URL(started.json.authorization_url).searchParams.get('state') as string;
      const callback = await broker.request(
        'GET',
        `/api/v1/callback?error=access_denied&error_description=no&state=${state}`,
        { headers: { accept: 'application/json' } }
      );
      expect(callback.status).toBe(400);
      expect(callback.json.error).toBe('invalid_request');
      const said = callback.json.error_description as string;
      expect(said).toMatch(/error answer \('access_denied'\) of provider 'demo' has no 'iss'/);
      expect(said).toMatch(/authorization_response_iss_parameter_supported/);
      expect(said).toMatch(/start the sign-in again/);
      expect(said).not.toContain(state);
      // A wrong iss is named as a mix-up, not a validation failure.
      const other = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
      const otherState = new URL(other.json.authorization_url).searchParams.get('state') as string;
      const mixed = await broker.request(
        'GET',
        `/api/v1/callback?code=abc&state=${otherState}&iss=${encodeURIComponent('https://evil.example')}`,
        { headers: { accept: 'application/json' } }
      );
      expect(mixed.json.error_description).toMatch(
        /names issuer 'https:\/\/evil\.example' and does not come from provider 'demo'/
      );
    } finally {
      await broker.close();
    }
  });
});

describe("the device flow passes on the IdP's error_description", () => {
  let grantsIdp: GrantsIdP;
  beforeAll(async () => {
    grantsIdp = await startGrantsIdP();
  });
  afterAll(async () => {
    await grantsIdp.close();
  });

  const refusing =
    (path: string, error: string, description: string) =>
    (inner: typeof fetch): typeof fetch =>
    async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const body = String(init?.body ?? '');
      if (url.endsWith(path) && (path !== '/token' || body.includes('device_code'))) {
        return new Response(JSON.stringify({ error, error_description: description }), {
          status: 400,
          headers: { 'content-type': 'application/json' }
        });
      }
      return inner(input, init);
    };

  test('a refused start names the IdP words and the fix, without a token it echoed', async () => {
    const broker = await startBroker(grantsIdp, {
      provider: { client_id: 'device-client' },
      wrapFetch: refusing(
        '/device/auth',
        'invalid_request',
        `the scope "admin" is not allowed for this client\n(refresh token ${ECHOED})`
      )
    });
    try {
      const started = await broker.request('POST', '/api/v1/providers/demo/login', {
        body: { method: 'device' }
      });
      expect(started.json.error).toBe('upstream_error');
      const said = started.json.error_description as string;
      expect(said).toContain('the scope "admin" is not allowed for this client');
      expect(said).toMatch(/'invalid_request'/);
      expect(said).toMatch(/To fix it: /);
      expect(said).not.toContain(ECHOED);
      expect(said).not.toMatch(/\n/);
      expect(broker.logs.join('\n')).not.toContain(ECHOED);
    } finally {
      await broker.close();
    }
  });

  test('a poll refused with invalid_request shows the IdP words in the login status', async () => {
    const broker = await startBroker(grantsIdp, {
      provider: { client_id: 'device-client' },
      wrapFetch: refusing('/token', 'invalid_request', 'device_code was issued to another client')
    });
    grantsIdp.deviceInterval = 1;
    try {
      const started = await broker.request('POST', '/api/v1/providers/demo/login', {
        body: { method: 'device' }
      });
      expect(started.status).toBe(200);
      const status = (): Promise<{ json: Record<string, string> }> =>
        broker.request('GET', '/api/v1/providers/demo/login');
      await until(async () => (await status()).json.status === 'failed', 8000);
      const failed = (await status()).json;
      expect(failed.error).toBe('upstream_error');
      expect(failed.error_description).toContain('device_code was issued to another client');
    } finally {
      broker.context.devices.cancel();
      await broker.close();
    }
  }, 15000);
});
