/**
 * Regression (issue 11, defect 4): an IdP whose OIDC discovery names no `revocation_endpoint`
 * (Django OAuth Toolkit publishes it only in its RFC 8414 metadata) was never asked to revoke at
 * sign-out, and the person saw a normal sign-out while the refresh token stayed valid. The sign-out
 * now finds the endpoint in the RFC 8414 metadata or takes the configured one, and when the IdP
 * is not asked, the answer, the panel and the audit trail say so.
 */
import { afterEach, describe, expect, test } from '@jest/globals';

import { ConfigError } from '../../src/configError.js';
import { validateProvider } from '../../src/providers/providerConfig.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { CLIENT_ID, SCOPES, startIdP, type IdP } from '../fixtures/idp.js';
import { lastRefreshToken, redeem } from '../fixtures/idpChecks.js';

interface KoaContext {
  path: string;
  status: number;
  body: unknown;
  type: string;
}

/**
 * An IdP whose OIDC discovery omits `revocation_endpoint`; with `rfc8414` it serves the full
 * metadata (with the endpoint) at `/.well-known/oauth-authorization-server` instead, at the RFC's
 * place or, with `rfc8414: 'appended'`, after the issuer's path (Django OAuth Toolkit's `/o/…`).
 */
async function idpWithoutDiscoveredRevocation(rfc8414: false | 'rfc' | 'appended'): Promise<IdP> {
  const prefix = rfc8414 === 'appended' ? '/o' : '';
  const idp = await startIdP({
    pathPrefix: prefix,
    configure: provider => {
      const app = provider as unknown as {
        use(mw: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
      };
      app.use(async (ctx, next) => {
        const wanted = ctx.path.endsWith('/.well-known/oauth-authorization-server');
        if (wanted) ctx.path = '/.well-known/openid-configuration';
        await next();
        if (!ctx.path.endsWith('/.well-known/openid-configuration')) return;
        const metadata = { ...(ctx.body as Record<string, unknown>) };
        if (!wanted) delete metadata.revocation_endpoint;
        else if (rfc8414 === false) {
          ctx.status = 404;
          ctx.body = 'not found';
          return;
        }
        ctx.body = metadata;
      });
    }
  });
  return idp;
}

let idp: IdP | undefined;
let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.close();
  await idp?.close();
  broker = undefined;
  idp = undefined;
});

/** Signs in, then signs out; returns the sign-out's answer and the refresh token it should end. */
async function signInAndOut(
  provider: Record<string, unknown> = {}
): Promise<{ status: number; json: unknown; refreshToken: string }> {
  broker = await startBroker(idp!, { provider });
  expect((await broker.login()).status).toBe(200);
  const refreshToken = lastRefreshToken(broker);
  const out = await broker.request('DELETE', '/api/v1/providers/demo/grant');
  return { status: out.status, json: out.json, refreshToken };
}

describe('revocation endpoint missing from OIDC discovery', () => {
  test('sign-out revokes at the RFC 8414 metadata endpoint (/.well-known/oauth-authorization-server)', async () => {
    idp = await idpWithoutDiscoveredRevocation('rfc');
    const { status, refreshToken } = await signInAndOut();
    expect(status).toBe(204);
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
  });

  test("an issuer with a path: the metadata after the issuer's path, as Django OAuth Toolkit serves it", async () => {
    idp = await idpWithoutDiscoveredRevocation('appended');
    const { status, refreshToken } = await signInAndOut();
    expect(status).toBe(204);
    expect(broker!.upstreamCalls).toContain(`${idp.issuer}/.well-known/oauth-authorization-server`);
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
  });

  test('a configured revocation_endpoint is used on a discovered provider', async () => {
    idp = await idpWithoutDiscoveredRevocation(false);
    const { status, refreshToken } = await signInAndOut({
      revocation_endpoint: `${idp.issuer}/token/revocation`
    });
    expect(status).toBe(204);
    expect(await redeem(idp, refreshToken)).toEqual({ status: 400, error: 'invalid_grant' });
  });

  test('with no endpoint anywhere, the answer and the audit trail say the IdP was not asked', async () => {
    idp = await idpWithoutDiscoveredRevocation(false);
    const { status, json, refreshToken } = await signInAndOut();
    expect(status).toBe(200);
    expect(json).toEqual({
      upstream: 'not_supported',
      description:
        'Signed out here; the identity provider was not asked to revoke (no revocation endpoint): ' +
        "the sign-in stays valid there until it expires; end it in the identity provider, or configure the provider's revocation_endpoint."
    });
    const events = (await broker!.request('GET', '/api/v1/events')).json.events;
    expect(events[0]).toMatchObject({
      type: 'logout',
      outcome: 'ok',
      reason: 'signed out here; not revoked at the identity provider (no revocation endpoint)'
    });
    expect(events[1]).toMatchObject({ type: 'revoke', code: 'not_supported' });
    // Signed out here all the same.
    const token = await broker!.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.json.error).toBe('login_required');
    // What the answer warns of: the IdP still honours the refresh token.
    expect((await redeem(idp, refreshToken)).status).toBe(200);
  });
});

describe('revocation_endpoint option', () => {
  const base = { id: 'x', client_id: CLIENT_ID, scopes: SCOPES };
  const kinds: Array<[string, Record<string, unknown>]> = [
    ['oidc', { kind: 'oidc', issuer: 'https://idp.example.org' }],
    ['keycloak', { kind: 'keycloak', realm_url: 'https://kc.example.org/realms/r' }],
    ['cognito', { kind: 'cognito', domain: 'https://pool.auth.example.com' }],
    [
      'oauth2',
      {
        kind: 'oauth2',
        authorization_endpoint: 'https://auth.example.org/authorize',
        token_endpoint: 'https://auth.example.org/token'
      }
    ],
    [
      'jupyterhub',
      { kind: 'jupyterhub', hub_url: 'https://hub.example.org', client_secret_file: '/s' }
    ]
  ];

  test.each(kinds)('kind %s accepts it and revokes there', (_kind, raw) => {
    const config = validateProvider(
      { ...base, ...raw, revocation_endpoint: 'https://idp.example.org/revoke' },
      'providers[0]'
    );
    expect(config.revocation_endpoint).toBe('https://idp.example.org/revoke');
    if (config.endpoints !== null) {
      expect(config.endpoints.revocation_endpoint).toBe('https://idp.example.org/revoke');
    }
  });

  test.each(kinds)(
    'kind %s takes revoke_replaced_grant true, false or "auto" (default; Cognito: true)',
    (_k, raw) => {
      expect(validateProvider({ ...base, ...raw }, 'providers[0]').revoke_replaced_grant).toBe(
        raw.kind === 'cognito' ? true : 'auto'
      );
      for (const value of [true, false, 'auto'] as const) {
        const config = validateProvider({ ...base, ...raw, revoke_replaced_grant: value }, 'p');
        expect(config.revoke_replaced_grant).toBe(value);
      }
      expect(() =>
        validateProvider({ ...base, ...raw, revoke_replaced_grant: 'yes' }, 'providers[0]')
      ).toThrow('revoke_replaced_grant: must be true, false or "auto"');
    }
  );

  test.each(kinds)('kind %s checks it like every URL option', (_kind, raw) => {
    for (const bad of ['http://idp.example.org/revoke', 'not a url', 42]) {
      expect(() =>
        validateProvider({ ...base, ...raw, revocation_endpoint: bad }, 'providers[0]')
      ).toThrow(ConfigError);
    }
  });
});
