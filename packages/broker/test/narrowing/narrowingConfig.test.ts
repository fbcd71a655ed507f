/**
 * The `narrowing` provider option: every sign-in kind defaults to `refuse` (no narrowed request can
 * shrink a grant unless an admin chose a method for that IdP), and a kind that cannot narrow safely
 * accepts nothing else.
 */
import { describe, expect, test } from '@jest/globals';

import { ConfigError, validateConfig } from '../../src/config.js';

const base = { id: 'p', client_id: 'c' };
const KINDS: Record<string, Record<string, unknown>> = {
  oidc: { issuer: 'https://idp.example.org', scopes: ['openid'] },
  keycloak: { kind: 'keycloak', realm_url: 'https://kc.example.org/realms/x', scopes: ['openid'] },
  oauth2: {
    kind: 'oauth2',
    authorization_endpoint: 'https://a.example.org/authorize',
    token_endpoint: 'https://a.example.org/token',
    scopes: ['read']
  },
  cognito: { kind: 'cognito', domain: 'https://x.auth.eu-west-1.amazoncognito.com', scopes: [] },
  jupyterhub: {
    kind: 'jupyterhub',
    hub_url: 'https://hub.example.org/',
    client_secret_file: '/s',
    scopes: []
  }
};

function provider(fields: Record<string, unknown>) {
  return validateConfig({ providers: [{ ...base, ...fields }] }).providers[0];
}

function refusal(fields: Record<string, unknown>): ConfigError {
  try {
    provider(fields);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('config was accepted');
}

describe('narrowing defaults and choices', () => {
  test.each(Object.keys(KINDS))('kind %s refuses narrowed tokens unless told otherwise', kind => {
    expect(provider(KINDS[kind]).narrowing).toBe('refuse');
  });

  test.each(['oidc', 'keycloak', 'oauth2'])('kind %s accepts "refresh" and "exchange"', kind => {
    expect(provider({ ...KINDS[kind], narrowing: 'refresh' }).narrowing).toBe('refresh');
    expect(provider({ ...KINDS[kind], narrowing: 'exchange' }).narrowing).toBe('exchange');
  });

  test.each(['cognito', 'jupyterhub'])('kind %s accepts only "refuse", saying why', kind => {
    expect(provider({ ...KINDS[kind], narrowing: 'refuse' }).narrowing).toBe('refuse');
    const err = refusal({ ...KINDS[kind], narrowing: 'refresh' });
    expect(err.key).toBe('providers[0].narrowing');
    expect(err.message).toMatch(kind === 'cognito' ? /names no scope/ : /no refresh token/);
  });

  test('a misspelt method is named with the one probably meant', () => {
    const err = refusal({ ...KINDS.oidc, narrowing: 'exchnage' });
    expect(err.key).toBe('providers[0].narrowing');
    expect(err.message).toMatch(/"exchange"/);
  });

  test('grants that ask each token with its own scopes have no narrowing, and refuse one', () => {
    const service = { ...KINDS.oidc, grant: 'client_credentials', client_secret_file: '/s' };
    expect(provider(service).narrowing).toBeNull();
    expect(refusal({ ...service, narrowing: 'refresh' }).key).toBe('providers[0].narrowing');
  });
});
