/**
 * Config mistakes are caught at start and explained (issue 7, item 5): a typo or an unknown kind is
 * refused by `check-config` naming the provider by id with a "did you mean"; a missing or too open
 * client secret file and an issuer nobody answers are reported on that provider (the list's `error`,
 * check-config's `problems`), never as a 500 and never a secret file as a network problem, and a
 * repeated request gets the same answer.
 */
import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { ConfigError, validateConfig } from '../../src/config.js';
import { didYouMean } from '../../src/configError.js';
import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

const bundle = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));
let dir: string;
let script: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tb-mistakes-'));
  await chmod(dir, 0o700);
  script = join(dir, 'token-broker.mjs');
  await copyFile(bundle, script);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise(resolve => server.close(resolve));
  return port;
}

const demo = {
  id: 'demo',
  title: 'Demo',
  kind: 'oidc',
  issuer: 'https://idp.example.org',
  client_id: 'c',
  scopes: ['openid']
};

function refusal(raw: unknown): ConfigError {
  try {
    validateConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('config was accepted');
}

let configs = 0;
async function checkConfig(config: unknown, ...flags: string[]) {
  const file = join(dir, `config-${++configs}.json`);
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  const result = spawnSync(process.execPath, [script, 'check-config', ...flags, file], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' }
  });
  return { ...result, json: JSON.parse(result.stdout.trim().split('\n').pop() ?? 'null') };
}

describe('a static mistake names the provider by id and suggests the name meant', () => {
  test('a key typo: clinet_id', () => {
    const { client_id, ...rest } = demo;
    const err = refusal({ providers: [{ ...rest, clinet_id: client_id }] });
    expect(err.key).toBe('providers[0].clinet_id');
    expect(err.message).toBe(
      'config: provider "demo": clinet_id: is not an option of kind "oidc"; did you mean "client_id"?'
    );
  });

  test('an unknown kind', () => {
    const err = refusal({ providers: [{ ...demo, kind: 'odic' }] });
    expect(err.key).toBe('providers[0].kind');
    expect(err.message).toMatch(/^config: provider "demo": kind: must be one of "oidc", /);
    expect(err.message).toMatch(/; did you mean "oidc"\?$/);
  });

  test('an option of another kind says whose it is', () => {
    const err = refusal({ providers: [{ ...demo, realm_url: 'https://kc.example.org/realms/x' }] });
    expect(err.message).toBe(
      'config: provider "demo": realm_url: is an option of kind "keycloak", not of kind "oidc"'
    );
  });

  test('a top-level typo and a misspelt grant', () => {
    expect(refusal({ providers: [], upstream_timeout: 5000 }).message).toMatch(
      /did you mean "upstream_timeout_ms"\?$/
    );
    expect(refusal({ providers: [{ ...demo, grant: 'client_credential' }] }).message).toMatch(
      /^config: provider "demo": grant: .*did you mean "client_credentials"\?$/
    );
  });

  test('a missing required option says it is required', () => {
    const rest: Record<string, unknown> = { ...demo };
    delete rest.issuer;
    expect(refusal({ providers: [rest] }).message).toBe(
      'config: provider "demo": issuer: is required (a URL)'
    );
  });

  test('an entry without a valid id is named by its place', () => {
    expect(refusal({ providers: [{ ...demo, id: 'Demo' }] }).message).toMatch(
      /^config: providers\[0\]\.id: /
    );
  });

  test('no suggestion for a name nothing resembles', () => {
    expect(didYouMean('colour', ['client_id', 'issuer', 'scopes'])).toBe('');
    expect(didYouMean('scope', ['client_id', 'issuer', 'scopes'])).toBe('; did you mean "scopes"?');
  });
});

describe('token-broker check-config', () => {
  test('a key typo: exit 1, one line on stderr without a doubled prefix, the reason as JSON', async () => {
    const { client_id, ...rest } = demo;
    const result = await checkConfig({ providers: [{ ...rest, clinet_id: client_id }] });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'token-broker: config: provider "demo": clinet_id: is not an option of kind "oidc"; did you mean "client_id"?'
    ]);
    expect(result.json).toEqual({
      ok: false,
      error: 'config_error',
      key: 'providers[0].clinet_id',
      error_description:
        'config: provider "demo": clinet_id: is not an option of kind "oidc"; did you mean "client_id"?'
    });
  });

  test('a missing secret file: the broker can start, the provider has a config problem', async () => {
    const secret = join(dir, 'missing-secret');
    const result = await checkConfig({
      providers: [{ ...demo, id: 'svc', client_secret_file: secret }]
    });
    expect(result.status).toBe(0);
    expect(result.json).toMatchObject({ ok: true, providers: ['svc'] });
    expect(result.json.problems).toEqual([
      {
        provider: 'svc',
        error: 'config_error',
        error_description: `The client_secret_file of provider 'svc' (${secret}) does not exist.`
      }
    ]);
    expect(result.stderr).not.toMatch(/unreachable|discovery|upstream/i);
  });

  test('a 0644 secret file: chmod 600 it', async () => {
    const secret = join(dir, 'open-secret');
    await writeFile(secret, 's3cr3t\n', { mode: 0o644 });
    await chmod(secret, 0o644);
    const result = await checkConfig({
      providers: [{ ...demo, client_secret_file: secret }]
    });
    expect(result.status).toBe(0);
    expect(result.json.problems[0].error).toBe('config_error');
    expect(result.json.problems[0].error_description).toMatch(/mode 644\); chmod 600 it/);
    expect(result.stdout + result.stderr).not.toContain('s3cr3t');
  });

  test('--probe: an issuer nobody answers is reported with its URL and the cause', async () => {
    const port = await closedPort();
    const result = await checkConfig(
      { providers: [{ ...demo, issuer: `http://127.0.0.1:${port}` }] },
      '--probe'
    );
    expect(result.status).toBe(0);
    const [problem] = result.json.problems;
    expect(problem.error).toBe('upstream_unavailable');
    expect(problem.error_description).toContain(
      `http://127.0.0.1:${port}/.well-known/openid-configuration`
    );
    expect(problem.error_description).toContain('ECONNREFUSED');
  });
});

describe('the broker reports a provider it cannot use on that provider, never as a 500', () => {
  let idp: IdP;
  let broker: TestBroker;
  let secret: string;
  let port: number;

  beforeAll(async () => {
    idp = await startIdP();
    port = await closedPort();
    secret = join(dir, 'client-secret');
    broker = await startBroker(idp, {
      provider: { client_secret_file: secret },
      providers: [
        {
          id: 'gone',
          title: 'Gone',
          issuer: `http://127.0.0.1:${port}`,
          client_id: 'c',
          scopes: ['openid']
        }
      ]
    });
  });
  afterAll(async () => {
    await broker.close();
    await idp.close();
  });

  async function entry(id: string) {
    const list = await broker.request('GET', '/api/v1/providers');
    expect(list.status).toBe(200);
    return list.json.providers.find((p: { id: string }) => p.id === id);
  }

  function login(id = 'demo'): Promise<Answer> {
    return broker.request('POST', `/api/v1/providers/${id}/login`, { body: {} });
  }

  test('a missing secret file: config_error on the card and on every request, never upstream', async () => {
    const expected = `The client_secret_file of provider 'demo' (${secret}) does not exist.`;
    const card = await entry('demo');
    // One object the lab branches on by `code`; no free text beside it.
    expect(card.error).toEqual({ code: 'config_error', description: expected });
    expect(card).not.toHaveProperty('error_description');
    for (let i = 0; i < 3; i++) {
      const answer = await login();
      expect(answer.status).toBe(503);
      expect(answer.json).toEqual({ error: 'config_error', error_description: expected });
      expect(answer.headers['retry-after']).toBeUndefined();
    }
    const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(token.status).not.toBe(500);
  });

  test('a 0644 secret file: the same clear 503 every time (no 500/503 alternation)', async () => {
    await writeFile(secret, 's3cr3t\n', { mode: 0o644 });
    await chmod(secret, 0o644);
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await login());
      broker.advance(3); // across the discovery backoff
    }
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.json.error).toBe('config_error');
      expect(answer.json.error_description).toMatch(/mode 644\); chmod 600 it\.$/);
    }
    expect((await entry('demo')).error.code).toBe('config_error');
  });

  test('once fixed (chmod 600) the next request works and the card is clear', async () => {
    await chmod(secret, 0o600);
    expect((await login()).status).toBe(200);
    expect(await entry('demo')).not.toHaveProperty('error');
  });

  test('an issuer nobody answers: the first list says so with the URL and the cause', async () => {
    const gone = (await entry('gone')).error;
    expect(gone.code).toBe('upstream_unavailable');
    expect(gone.description).toContain(
      `Discovery of provider 'gone' at http://127.0.0.1:${port}/.well-known/openid-configuration failed`
    );
    expect(gone.description).toContain('ECONNREFUSED');
    const first = await login('gone');
    const second = await login('gone');
    for (const answer of [first, second]) {
      expect(answer.status).toBe(503);
      expect(answer.json).toEqual({
        error: 'upstream_unavailable',
        error_description: gone.description
      });
    }
  });
});

describe('the provider list notices an identity provider that came back', () => {
  test('a discovery that failed is tried again by the list after the backoff', async () => {
    const idp = await startIdP();
    idp.down = true;
    const broker = await startBroker(idp);
    try {
      const listed = async () =>
        (await broker.request('GET', '/api/v1/providers')).json.providers[0];
      const down = (await listed()).error;
      expect(down.code).toBe('upstream_unavailable');
      expect(down.description).toContain(`${idp.issuer}/.well-known/openid-configuration`);
      expect(down.description).toContain('answered 503');
      idp.down = false;
      broker.advance(6);
      await listed(); // starts the new discovery
      let entry = await listed();
      for (let i = 0; i < 50 && 'error' in entry; i++) {
        await new Promise(resolve => setTimeout(resolve, 100));
        entry = await listed();
      }
      expect(entry).not.toHaveProperty('error');
    } finally {
      await broker.close();
      await idp.close();
    }
  });
});
