/**
 * The egress allowlist as configured and as matched: every `egress` entry is an https (http only on
 * loopback) prefix ending with `/`, without userinfo, query, fragment or dot segments, and a bad one
 * stops the config naming `providers[i].egress[j]`; a target matches by scheme, host, port and path
 * prefix, never by text, after the tricks that could change the path the upstream sees are refused.
 */
import { describe, expect, test } from '@jest/globals';

import { ConfigError, validateConfig } from '../../src/config.js';
import { allows } from '../../src/egress/allowlist.js';
import { parseTarget } from '../../src/egress/target.js';
import { InvalidRequest } from '../../src/errors.js';
import { egressPrefix } from '../../src/providers/egressConfig.js';

/** A config with one provider carrying `fields`. */
function configWith(fields: Record<string, unknown>) {
  return validateConfig({
    providers: [
      {
        id: 'archive',
        issuer: 'https://idp.example.org',
        client_id: 'c',
        scopes: ['openid'],
        ...fields
      }
    ]
  });
}

/** The ConfigError of a config, or undefined. */
function mistake(fields: Record<string, unknown>): ConfigError | undefined {
  try {
    configWith(fields);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
}

describe('egress in the config', () => {
  test('defaults: no egress, tokens exposed', () => {
    const [provider] = configWith({}).providers;
    expect(provider.egress).toEqual([]);
    expect(provider.expose_token).toBe(true);
  });

  test('prefixes are resolved into scheme, lower-case host, defaulted port and path', () => {
    const [provider] = configWith({
      egress: ['https://Archive.Example.org/tap/', 'http://127.0.0.1:8080/', 'http://[::1]:9/x/']
    }).providers;
    expect(provider.egress).toEqual([
      {
        href: 'https://Archive.Example.org/tap/',
        scheme: 'https',
        host: 'archive.example.org',
        port: 443,
        path: '/tap/'
      },
      { href: 'http://127.0.0.1:8080/', scheme: 'http', host: '127.0.0.1', port: 8080, path: '/' },
      { href: 'http://[::1]:9/x/', scheme: 'http', host: '[::1]', port: 9, path: '/x/' }
    ]);
  });

  test.each([
    ['plain http to a remote host', 'http://archive.example.org/tap/', 'must be https'],
    ['another scheme', 'ftp://archive.example.org/tap/', 'must be an https URL'],
    ['no trailing slash', 'https://archive.example.org/tap', 'must end with "/"'],
    ['a query', 'https://archive.example.org/tap/?x=1', 'no query or fragment'],
    ['a fragment', 'https://archive.example.org/tap/#x', 'no query or fragment'],
    ['userinfo', 'https://user:pw@archive.example.org/tap/', 'credentials'],
    ['an empty userinfo', 'https://@archive.example.org/tap/', 'credentials'],
    ['a dot-dot segment', 'https://archive.example.org/tap/../admin/', 'plain path'],
    ['an encoded dot', 'https://archive.example.org/tap/%2e%2e/', 'encoded'],
    ['a backslash', 'https://archive.example.org/tap\\x/', 'backslashes'],
    ['not a URL', 'archive.example.org/tap/', 'not a valid absolute URL'],
    ['not a string', 42, 'must be a URL prefix string']
  ])('%s is refused naming providers[0].egress[1]', (_name, entry, problem) => {
    const err = mistake({ egress: ['https://ok.example.org/', entry] });
    expect(err?.key).toBe('providers[0].egress[1]');
    expect(err?.message).toContain(problem);
    expect(err?.message).toContain('provider "archive"');
  });

  test('egress must be a list', () => {
    expect(mistake({ egress: 'https://archive.example.org/' })?.key).toBe('providers[0].egress');
  });

  test('expose_token false needs an egress, and must be a boolean', () => {
    expect(mistake({ expose_token: false })?.key).toBe('providers[0].expose_token');
    expect(mistake({ expose_token: 'no', egress: ['https://a.example.org/'] })?.key).toBe(
      'providers[0].expose_token'
    );
    const [provider] = configWith({
      expose_token: false,
      egress: ['https://a.example.org/']
    }).providers;
    expect(provider.expose_token).toBe(false);
  });

  test.each([
    ['egress_timeout_ms', 50],
    ['egress_idle_timeout_ms', 0],
    ['egress_max_request_bytes', -1],
    ['egress_max_response_bytes', 2 ** 41]
  ])('%s out of range is refused naming it', (key, value) => {
    expect(() => validateConfig({ providers: [], [key]: value })).toThrow(key);
  });

  test('the egress options default as documented', () => {
    const config = validateConfig({ providers: [] });
    expect(config.egress_timeout_ms).toBe(30000);
    expect(config.egress_idle_timeout_ms).toBe(60000);
    expect(config.egress_max_request_bytes).toBe(4294967296);
    expect(config.egress_max_response_bytes).toBe(4294967296);
  });
});

describe('matching a target', () => {
  const prefix = egressPrefix('https://archive.example.org/tap/', 'k');

  test.each([
    ['the same origin under the path', 'https', 'archive.example.org', 'tap/sync', true],
    ['the default port written out', 'https', 'archive.example.org:443', 'tap/sync', true],
    ['the host in upper case', 'https', 'ARCHIVE.example.org', 'tap/', true],
    ['another port', 'https', 'archive.example.org:8443', 'tap/sync', false],
    ['http', 'http', 'archive.example.org', 'tap/sync', false],
    ['a sibling host', 'https', 'evil-archive.example.org', 'tap/sync', false],
    ['a host ending like it', 'https', 'archive.example.org.evil.net', 'tap/sync', false],
    ['the folder without its slash', 'https', 'archive.example.org', 'tap', false],
    ['a path starting like it', 'https', 'archive.example.org', 'tapx/sync', false],
    ['the path in another case', 'https', 'archive.example.org', 'TAP/sync', false]
  ])('%s: %s', (_name, scheme, authority, rest, allowed) => {
    expect(allows(prefix, parseTarget(scheme, authority, rest, ''))).toBe(allowed);
  });

  test.each([
    ['ftp', 'archive.example.org', 'tap/'],
    ['https', 'user@archive.example.org', 'tap/'],
    ['https', 'archive.example.org:99999', 'tap/'],
    ['https', 'archive.example.org:', 'tap/'],
    ['https', '', 'tap/'],
    ['https', 'archive.example.org', 'tap/../admin/'],
    ['https', 'archive.example.org', 'tap/%2E%2e/admin/'],
    ['https', 'archive.example.org', 'tap%2Fadmin'],
    ['https', 'archive.example.org', 'tap/%5Cadmin'],
    ['https', 'archive.example.org', 'tap/\\admin'],
    ['https', 'archive.example.org', 'tap/.;/admin'],
    ['https', 'archive.example.org', 'tap/%']
  ])('%s://%s/%s is refused as invalid_request', (scheme, authority, rest) => {
    expect(() => parseTarget(scheme, authority, rest, '')).toThrow(InvalidRequest);
  });

  test('the origin names the port only when it is not the default; the query is kept apart', () => {
    expect(parseTarget('https', 'a.example.org:443', 'x', '?q=1')).toMatchObject({
      origin: 'https://a.example.org',
      path: '/x',
      query: '?q=1'
    });
    expect(parseTarget('http', '[::1]:8080', '', '').origin).toBe('http://[::1]:8080');
    // urllib3 (requests) percent-encodes the brackets in the request path.
    expect(parseTarget('http', '%5B::1%5d:8080', '', '').origin).toBe('http://[::1]:8080');
    expect(() => parseTarget('http', '%31.2.3.4', '', '')).toThrow(InvalidRequest);
  });
});
