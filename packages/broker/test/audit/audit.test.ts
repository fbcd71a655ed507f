/**
 * The audit trail through HTTP: what is recorded, what `GET /api/v1/events` shows, that no token
 * material ever reaches it, file rotation, and that state-changing calls fail rather than go
 * unrecorded when the file cannot be written.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { AuditTrail, looksLikeToken, REFUSED } from '../../src/audit.js';
import { createLogger } from '../../src/log.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

/** Every secret the IdP sent or received through the broker: tokens, codes, verifiers. */
function secretsSeen(broker: TestBroker, answers: string[]): string[] {
  const found = new Set<string>();
  for (const text of [...broker.upstreamBodies, ...answers]) {
    for (const m of text.matchAll(
      /"(?:access_token|refresh_token|id_token|code)"\s*:\s*"([^"]+)"|(?:code|refresh_token|code_verifier)=([^&\s"]+)/g
    )) {
      const value = decodeURIComponent(m[1] ?? m[2]);
      if (value.length >= 16) found.add(value);
    }
  }
  return [...found];
}

describe('audit trail', () => {
  let idp: IdP;
  let broker: TestBroker;
  let dir: string;
  let path: string;
  const answers: string[] = [];

  beforeAll(async () => {
    idp = await startIdP();
    dir = await mkdtemp(join(tmpdir(), 'tb-audit-'));
    path = join(dir, 'audit.jsonl');
    broker = await startBroker(idp, { config: { audit: { path } } });
  });
  afterAll(async () => {
    await broker.close();
    await idp.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('login, issue, refresh, denial and logout are recorded, newest first, without token material', async () => {
    const callback = await broker.login();
    expect(callback.status).toBe(200);
    const first = await broker.request('POST', '/api/v1/providers/demo/token', {
      body: {},
      headers: { 'x-broker-client': 'kernel' }
    });
    expect(first.status).toBe(200);
    answers.push(first.text);
    broker.advance(200); // past expiry: the next request refreshes
    const second = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(second.status).toBe(200);
    answers.push(second.text);
    const denied = await broker.request('POST', '/api/v1/providers/demo/token', {
      body: { scopes: ['admin:everything'] }
    });
    expect(denied.json.error).toBe('scope_not_allowed');
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);

    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    const summary = events.map((e: { type: string; outcome: string }) => `${e.type}:${e.outcome}`);
    expect(summary.slice(0, 7)).toEqual([
      'logout:ok',
      'revoke:ok',
      'denial:denied',
      'issue:ok',
      'refresh:ok',
      'issue:ok',
      'login:ok'
    ]);
    expect(summary).toContain('login:ok');
    const denial = events.find((e: { type: string }) => e.type === 'denial');
    expect(denial).toMatchObject({
      provider: 'demo',
      scopes: ['admin:everything'],
      code: 'scope_not_allowed'
    });
    const issue = events.find(
      (e: { type: string; client: string }) => e.type === 'issue' && e.client === 'kernel'
    );
    expect(issue.scopes).toContain('demo:read');
    expect(Date.parse(issue.time)).not.toBeNaN();

    const secrets = secretsSeen(broker, answers);
    expect(secrets.length).toBeGreaterThan(3);
    const file = await readFile(path, 'utf8');
    const trail = JSON.stringify(events) + file;
    for (const secret of secrets) expect(trail).not.toContain(secret);
    expect(file.trim().split('\n').length).toBeGreaterThanOrEqual(events.length);
    expect((await stat(path)).mode & 0o077).toBe(0);
  });

  test('one sign-in is one "login ok" event, naming the client that started it (was two: started and completed)', async () => {
    const before = (await broker.request('GET', '/api/v1/events?limit=1000')).json.events.length;
    const started = await broker.request('POST', '/api/v1/providers/demo/login', {
      body: {},
      headers: { 'x-broker-client': '@acme/archive:plugin' }
    });
    expect(started.status).toBe(200);
    const redirect = await idp.authorize(started.json.authorization_url);
    expect((await broker.request('GET', `/api/v1/callback${redirect.search}`)).status).toBe(200);
    const events = (await broker.request('GET', '/api/v1/events?limit=1000')).json.events;
    const added = events.slice(0, events.length - before);
    expect(added).toEqual([
      expect.objectContaining({
        type: 'login',
        provider: 'demo',
        client: '@acme/archive:plugin',
        outcome: 'ok',
        reason: 'completed'
      })
    ]);
    const replayed = await broker.request('GET', `/api/v1/callback${redirect.search}`);
    expect(replayed.status).toBe(400);
    const after = (await broker.request('GET', '/api/v1/events?limit=1000')).json.events;
    expect(after[0]).toMatchObject({ type: 'login', outcome: 'error', reason: 'failed' });
    expect((await broker.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
  });

  test('limit and provider filter the events; bad values are 400', async () => {
    const two = await broker.request('GET', '/api/v1/events?limit=2');
    expect(two.json.events).toHaveLength(2);
    const other = await broker.request('GET', '/api/v1/events?provider=other');
    expect(other.json.events).toEqual([]);
    for (const query of ['limit=0', 'limit=abc', 'limit=5000', 'provider=..%2F', 'provider=Demo']) {
      const bad = await broker.request('GET', `/api/v1/events?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.json.error).toBe('invalid_request');
    }
    expect((await broker.request('GET', '/api/v1/events', { key: false })).status).toBe(401);
  });
});

describe('token guard', () => {
  test('a field that looks like a token is written as [refused], never as the token', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-audit-'));
    const path = join(dir, 'audit.jsonl');
    const logs: string[] = [];
    const trail = new AuditTrail({
      path,
      maxBytes: 1 << 20,
      keep: 3,
      clock: Date.now,
      log: createLogger({ sink: line => logs.push(line) })
    });
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const opaque = 'Qm9vdGhTdHJhcFJlZnJlc2hUb2tlbjEyMzQ1Njc4OTBhYmNkZWY';
    const event = await trail.record({
      type: 'issue',
      provider: 'demo',
      client: jwt,
      scopes: ['openid', opaque],
      outcome: 'ok',
      reason: `upstream said ${opaque}`
    });
    expect(event.client).toBe(REFUSED);
    expect(event.scopes).toEqual(['openid', REFUSED]);
    expect(event.reason).toBe(REFUSED);
    const written = await readFile(path, 'utf8');
    expect(written).not.toContain(jwt);
    expect(written).not.toContain(opaque);
    expect(written).toContain(REFUSED);
    expect(logs.join('\n')).toContain('audit_field_refused');
    await rm(dir, { recursive: true, force: true });
  });

  test('labels, scopes and plugin ids are not mistaken for tokens', () => {
    for (const label of [
      '@my-org/archive-browser:plugin',
      'jupyterlab-some-very-long-extension-name-here',
      'https://vo.example.org/scopes/tap.read',
      'The identity provider answered 503.'
    ]) {
      expect(looksLikeToken(label)).toBe(false);
    }
    expect(looksLikeToken('a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7')).toBe(true);
  });
});

describe('rotation', () => {
  test('the file rotates at max_bytes and keeps `keep` old files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-audit-'));
    const path = join(dir, 'audit.jsonl');
    const trail = new AuditTrail({
      path,
      maxBytes: 1024,
      keep: 2,
      clock: Date.now,
      log: createLogger({ sink: () => undefined })
    });
    for (let i = 0; i < 60; i++) {
      await trail.record({ type: 'issue', provider: 'demo', client: `client-${i}`, outcome: 'ok' });
    }
    for (const file of [path, `${path}.1`, `${path}.2`]) {
      expect((await stat(file)).size).toBeLessThanOrEqual(1024);
    }
    expect(existsSync(`${path}.3`)).toBe(false);
    const newest = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    expect(newest.at(-1).client).toBe('client-59');
    expect(trail.recent({ limit: 1 })[0].client).toBe('client-59');
    await rm(dir, { recursive: true, force: true });
  });
});

describe('when the audit trail cannot be written', () => {
  let idp: IdP;

  beforeAll(async () => {
    idp = await startIdP();
  });
  afterAll(async () => {
    await idp.close();
  });

  test('token issue, sign-out and admin revoke fail with 503 store_unavailable and change nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tb-audit-'));
    const sub = join(dir, 'trail');
    await mkdir(sub);
    const broker = await startBroker(idp, {
      config: { audit: { path: join(sub, 'audit.jsonl') } }
    });
    try {
      expect((await broker.login()).status).toBe(200);
      // The directory goes away and a file takes its place: every write now fails (even as root).
      await rm(sub, { recursive: true });
      await writeFile(sub, 'not a directory');

      const token = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
      expect(token.status).toBe(503);
      expect(token.json.error).toBe('store_unavailable');
      expect(token.json.error_description).toMatch(/audit trail/);
      expect(token.headers['retry-after']).toBeDefined();
      expect(token.text).not.toContain('access_token');

      const signOut = await broker.request('DELETE', '/api/v1/providers/demo/grant');
      expect(signOut.status).toBe(503);
      const admin = await broker.request('POST', '/api/v1/admin/revoke', {
        body: { reason: 'test' },
        headers: { 'x-broker-caller': 'admin' }
      });
      expect(admin.status).toBe(503);
      const login = await broker.request('POST', '/api/v1/providers/demo/login', { body: {} });
      expect(login.status).toBe(503);

      const listed = await broker.request('GET', '/api/v1/providers');
      expect(listed.json.providers[0].signed_in).toBe(true);
    } finally {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a full disk (/dev/full) refuses the sign-in: 503 from the callback and no grant stored', async () => {
    const broker = await startBroker(idp, { config: { audit: { path: '/dev/full' } } });
    try {
      const callback = await broker.login();
      expect(callback.status).toBe(503);
      expect(callback.json).toEqual({
        error: 'store_unavailable',
        error_description: expect.stringMatching(/audit trail/)
      });
      const listed = await broker.request('GET', '/api/v1/providers');
      expect(listed.json.providers[0].signed_in).toBe(false);
    } finally {
      await broker.close();
    }
  });
});
