import { describe, expect, test } from '@jest/globals';

import { ConfigError, validateConfig } from '../../src/config.js';

const base = { id: 'p', client_id: 'c' };

function provider(fields: Record<string, unknown>) {
  return validateConfig({ providers: [{ ...base, ...fields }] }).providers[0];
}

function badKey(providers: Record<string, unknown>[]): string {
  try {
    validateConfig({ providers });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).key;
  }
  throw new Error('config was accepted');
}

describe('provider kinds resolve to discovery or explicit endpoints', () => {
  test('cognito: the domain gives the /oauth2 endpoints; ID tokens only with an issuer', () => {
    const p = provider({
      kind: 'cognito',
      domain: 'https://myapp.auth.eu-west-1.amazoncognito.com',
      scopes: ['openid']
    });
    expect(p.endpoints).toEqual({
      authorization_endpoint: 'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
      token_endpoint: 'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token',
      userinfo_endpoint: 'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/userInfo',
      revocation_endpoint: 'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/revoke',
      device_authorization_endpoint: null
    });
    expect(p.issuer).toBeNull();
  });

  test('keycloak: the realm URL is the issuer (discovery)', () => {
    const p = provider({
      kind: 'keycloak',
      realm_url: 'https://kc.example.org/realms/x/',
      scopes: ['openid']
    });
    expect(p).toMatchObject({ issuer: 'https://kc.example.org/realms/x', endpoints: null });
  });

  test('jupyterhub: hub endpoints, secret in the body, account from the name', () => {
    const p = provider({
      kind: 'jupyterhub',
      hub_url: 'https://hub.example.org/jh',
      client_secret_file: '/s',
      client_id: 'service-x',
      scopes: []
    });
    expect(p.endpoints?.token_endpoint).toBe('https://hub.example.org/jh/hub/api/oauth2/token');
    expect(p.endpoints?.userinfo_endpoint).toBe('https://hub.example.org/jh/hub/api/user');
    expect(p.token_endpoint_auth_method).toBe('client_secret_post');
    expect(p.account_claim).toBe('name');
    expect(p.implied_scopes).toContain('access:services!service=x');
  });

  test('token exchange implies its grant and its audience', () => {
    const { providers } = validateConfig({
      providers: [
        { ...base, id: 'kc', issuer: 'https://kc.example.org', scopes: ['openid'] },
        {
          ...base,
          id: 'api',
          issuer: 'https://kc.example.org',
          scopes: ['read'],
          client_secret_file: '/s',
          token_exchange: { subject_provider: 'kc', audience: 'api' }
        }
      ]
    });
    expect(providers[1]).toMatchObject({ grant: 'token_exchange', audiences: ['api'] });
  });
});

describe('bad provider options name the key', () => {
  test.each([
    [[{ ...base, kind: 'saml', issuer: 'https://x' }], 'providers[0].kind'],
    [
      [{ ...base, kind: 'oauth2', token_endpoint: 'https://x/t', scopes: [] }],
      'providers[0].authorization_endpoint'
    ],
    [
      [
        {
          ...base,
          kind: 'oauth2',
          issuer: 'https://x',
          token_endpoint: 'https://x/t',
          authorization_endpoint: 'https://x/a',
          scopes: [],
          realm_url: 'https://x'
        }
      ],
      'providers[0].realm_url'
    ],
    [
      [
        {
          ...base,
          kind: 'oauth2',
          token_endpoint: 'https://x/t',
          authorization_endpoint: 'https://x/a',
          authorization_response_iss_parameter_supported: true,
          scopes: []
        }
      ],
      'providers[0].issuer'
    ],
    [
      [{ ...base, kind: 'keycloak', realm_url: 'https://kc.example.org/auth', scopes: ['openid'] }],
      'providers[0].realm_url'
    ],
    [
      [{ ...base, kind: 'cognito', domain: 'https://x.example.org/path', scopes: [] }],
      'providers[0].domain'
    ],
    [
      [{ ...base, kind: 'jupyterhub', hub_url: 'https://hub', scopes: [] }],
      'providers[0].client_secret_file'
    ],
    [
      [{ ...base, issuer: 'https://x', scopes: [], grant: 'client_credentials' }],
      'providers[0].client_secret_file'
    ],
    [[{ ...base, issuer: 'https://x', scopes: [], grant: 'password' }], 'providers[0].grant'],
    [
      [
        {
          ...base,
          issuer: 'https://x',
          scopes: ['a'],
          client_secret_file: '/s',
          token_exchange: { subject_provider: 'nope' }
        }
      ],
      'providers[0].token_exchange.subject_provider'
    ],
    [
      [
        {
          ...base,
          issuer: 'https://x',
          scopes: ['a'],
          client_secret_file: '/s',
          token_exchange: { subject_provider: 'p' }
        }
      ],
      'providers[0].token_exchange.subject_provider'
    ],
    [
      [
        {
          ...base,
          issuer: 'https://x',
          scopes: ['a'],
          client_secret_file: '/s',
          token_exchange: { subject_provider: 'q', scopes: ['b'] }
        }
      ],
      'providers[0].token_exchange.scopes'
    ],
    [
      [
        {
          ...base,
          issuer: 'https://x',
          scopes: ['openid'],
          token_endpoint_auth_method: 'client_secret_post'
        }
      ],
      'providers[0].token_endpoint_auth_method'
    ]
  ])('%j → %s', (providers, key) => {
    expect(badKey(providers as Record<string, unknown>[])).toBe(key);
  });
});
