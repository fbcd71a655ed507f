import { readFileSync } from 'node:fs';

import { describe, expect, test } from '@jest/globals';

import { ConfigError, defaults, validateConfig } from '../../src/config.js';
import { redact } from '../../src/log.js';
import { shouldRefresh } from '../../src/accessToken.js';
import { VERSION } from '../../src/version.js';

const provider = {
  id: 'demo',
  title: 'Demo',
  kind: 'oidc',
  issuer: 'https://idp.example.org',
  client_id: 'c',
  scopes: ['openid']
};

function badKey(raw: unknown): string {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).key;
  }
  throw new Error('config was accepted');
}

describe('config validation names the bad key', () => {
  test('defaults fill in', () => {
    const config = validateConfig({ providers: [provider] });
    expect(config.upstream_timeout_ms).toBe(defaults.upstream_timeout_ms);
    expect(config.providers[0].redirect_uri).toBeNull();
  });

  test.each([
    [{ providers: [{ ...provider, id: '../x' }] }, 'providers[0].id'],
    [{ providers: [{ ...provider, issuer: 'http://idp.example.org' }] }, 'providers[0].issuer'],
    [{ providers: [{ ...provider, scopes: ['profile'] }] }, 'providers[0].scopes'],
    [{ providers: [provider, provider] }, 'providers[1].id'],
    [{ providers: [{ ...provider, colour: 'red' }] }, 'providers[0].colour'],
    [{ providers: [], upstream_timeout_ms: 'soon' }, 'upstream_timeout_ms'],
    [{ providers: [], store: { type: 'disk' } }, 'store.type'],
    [{ providers: [], extra: 1 }, 'extra'],
    [{}, 'providers']
  ])('%j → %s', (raw, key) => {
    expect(badKey(raw)).toBe(key);
  });
});

describe('small decisions', () => {
  test('shouldRefresh honours min_ttl and the margin', () => {
    expect(shouldRefresh(undefined, 0, 0, 0)).toBe(true);
    expect(shouldRefresh({ expiresAt: 100 }, 0, 30, 30)).toBe(false);
    expect(shouldRefresh({ expiresAt: 100 }, 75, 10, 30)).toBe(true);
    expect(shouldRefresh({ expiresAt: 100 }, 50, 60, 30)).toBe(true);
  });

  test('an explicit min_ttl is kept although the clock reads whole seconds rounded down', () => {
    // At a reading of 40 s the time is 40.0 to 40.999 s: a token expiring at 100 s may have only
    // 59.001 s left, so min_ttl 60 needs another token (the soak saw min_ttl promises missed by ~1 s).
    expect(shouldRefresh({ expiresAt: 100, lifetime: 300 }, 40, 60, 0)).toBe(true);
    expect(shouldRefresh({ expiresAt: 100, lifetime: 300 }, 39, 60, 0)).toBe(false);
    // The default min_ttl and the margin are no promise: they keep their whole-second reading.
    expect(shouldRefresh({ expiresAt: 100, lifetime: 300 }, 70, undefined, 30, 30)).toBe(false);
  });

  test('redact hides secret-looking fields and token-looking values', () => {
    expect(
      redact({
        refresh_token: 'x',
        nested: { code_verifier: 'y' },
        note: 'eyJa.eyJb.sig',
        ok: 'fine'
      })
    ).toEqual({
      refresh_token: '[redacted]',
      nested: { code_verifier: '[redacted]' },
      note: '[redacted]',
      ok: 'fine'
    });
  });

  test('VERSION matches package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(pkg.version);
  });
});
