import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, test } from '@jest/globals';

import { ConfigError, defaults, OPTIONS, validateConfig } from '../../src/config.js';

const provider = {
  id: 'demo',
  title: 'Demo',
  kind: 'oidc',
  issuer: 'https://idp.example.org',
  client_id: 'c',
  scopes: ['openid']
};

const integers = Object.entries(OPTIONS).filter(([, doc]) => doc.type === 'integer');

function refusal(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('config was accepted');
}

describe('the options table is what the broker accepts', () => {
  test('every default is a described option, and every option but providers has a default', () => {
    expect(Object.keys(OPTIONS).sort()).toEqual(['providers', ...Object.keys(defaults)].sort());
  });

  test.each(integers)('%s takes its whole range and nothing outside it', (name, doc) => {
    const { minimum, maximum } = doc as { minimum: number; maximum: number };
    for (const value of [minimum, maximum]) {
      const config = validateConfig({ providers: [provider], [name]: value });
      expect(config[name as keyof typeof config]).toBe(value);
    }
    for (const value of [minimum - 1, maximum + 1, 1.5, '60']) {
      const err = refusal({ providers: [provider], [name]: value });
      expect(err.key).toBe(name);
      expect(err.message).toBe(`config: ${name}: must be an integer from ${minimum} to ${maximum}`);
    }
  });
});

describe('token-broker options', () => {
  test('prints every option with its description, range and default', () => {
    const bundle = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [bundle, 'options'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const printed = (JSON.parse(run.stdout) as { options: { name: string }[] }).options;
    expect(printed.map(o => o.name)).toEqual(Object.keys(OPTIONS));
    expect(printed.find(o => o.name === 'login_state_ttl_seconds')).toEqual({
      name: 'login_state_ttl_seconds',
      ...OPTIONS.login_state_ttl_seconds,
      default: defaults.login_state_ttl_seconds
    });
  });
});
