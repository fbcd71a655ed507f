/**
 * `GET /api/v1/idle` through HTTP against a real oidc-provider: the server extension's supervisor
 * stops an idle broker only when the answer says nothing would be lost. A broker holding a sign-in
 * (or a consent, a queued revocation) in the memory store, a sign-in waiting for its callback, a
 * device login polling, a revocation waiting for its retry or a refresh under way must never be
 * told it can exit; a broker whose grants are durable (file store) or that holds nothing must.
 */
import { createServer, type Server } from 'node:http';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';

import { openStore } from '../../src/stores/index.js';
import { startBroker, type Answer, type TestBroker } from '../fixtures/broker.js';
import { SCOPES as GRANTS_SCOPES, startGrantsIdP } from '../fixtures/grantsIdp.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

let idp: IdP;
const brokers: TestBroker[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  idp = await startIdP();
});
afterAll(async () => {
  await idp.close();
});
afterEach(async () => {
  for (const b of brokers.splice(0)) {
    b.context.devices.cancel();
    b.context.revocations.close();
    await b.close();
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  Object.assign(idp, { down: false, lateMs: 0 });
});

async function broker(overrides: Parameters<typeof startBroker>[1] = {}): Promise<TestBroker> {
  const b = await startBroker(idp, overrides);
  brokers.push(b);
  return b;
}

/** A broker on a fresh file store (0700 directory), as `store: {type: file}` configures it. */
async function fileBroker(): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'tb-idle-store-'));
  dirs.push(dir);
  await chmod(dir, 0o700);
  const store = await openStore(
    { type: 'file', path: join(dir, 'grants.store'), key_file: join(dir, 'store.key') },
    { upstreamTimeoutMs: 2000 }
  );
  return broker({ store });
}

function idle(b: TestBroker, options: Parameters<TestBroker['request']>[2] = {}): Promise<Answer> {
  return b.request('GET', '/api/v1/idle', options);
}

/** The answer's body, after checking what every 200 has: no-store, and `keeps` empty iff can_exit. */
async function idleBody(
  b: TestBroker
): Promise<{ can_exit: boolean; keeps: string[]; description: string }> {
  const answer = await idle(b);
  expect(answer.status).toBe(200);
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(Object.keys(answer.json).sort()).toEqual(['can_exit', 'description', 'keeps']);
  expect(answer.json.keeps.length === 0).toBe(answer.json.can_exit);
  return answer.json;
}

const NOTHING = { can_exit: true, keeps: [], description: 'nothing would be lost' };

describe('GET /api/v1/idle: a memory-store broker holding a grant never exits', () => {
  test('a fresh memory-store broker can exit: nothing would be lost', async () => {
    const b = await broker();
    expect(await idleBody(b)).toEqual(NOTHING);
  });

  test('a sign-in in the memory store keeps it (named, no token), until the sign-out', async () => {
    const b = await broker();
    expect((await b.login()).status).toBe(200);
    const held = await idleBody(b);
    expect(held).toEqual({
      can_exit: false,
      keeps: ['memory_store_state'],
      description:
        "keeps running: the memory store holds a sign-in of 'demo' (a restart would lose it)"
    });
    const grant = await b.context.store.get('demo');
    expect(held.description).not.toContain(grant!.refreshToken!);

    expect((await b.request('DELETE', '/api/v1/providers/demo/grant')).status).toBe(204);
    expect(await idleBody(b)).toEqual(NOTHING);
  });

  test('a consent recorded in the memory store keeps it', async () => {
    const b = await broker();
    const decided = await b.request('PUT', '/api/v1/consents', {
      headers: { 'x-broker-client': 'jupyterlab' },
      body: { client: '@org/archive:plugin', provider: 'demo', decision: 'allow_always' }
    });
    expect(decided.status).toBe(204);
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['memory_store_state'],
      description:
        'keeps running: the memory store holds a plugin consent (a restart would lose it)'
    });
  });
});

describe('GET /api/v1/idle: durable grants let it exit', () => {
  test('a file-store broker with a grant can exit', async () => {
    const b = await fileBroker();
    expect((await b.login()).status).toBe(200);
    expect(await b.context.store.get('demo')).toBeDefined();
    expect(await idleBody(b)).toEqual(NOTHING);
  });

  test("a plugin's allow for this session keeps even a file-store broker (it is never persisted)", async () => {
    const b = await fileBroker();
    const consent = (decision: string): Promise<Answer> =>
      b.request('PUT', '/api/v1/consents', {
        headers: { 'x-broker-client': 'jupyterlab' },
        body: { client: '@org/archive:plugin', provider: 'demo', decision }
      });
    expect((await consent('allow_always')).status).toBe(204);
    expect(await idleBody(b)).toEqual(NOTHING);
    expect((await consent('allow')).status).toBe(204);
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['memory_store_state'],
      description:
        "keeps running: the broker's memory holds a plugin's consent for this session (a restart would lose it)"
    });
    // The session allow expires (consent_session_seconds, 8 h by default): nothing left to lose.
    b.advance(8 * 3600 + 1);
    expect(await idleBody(b)).toEqual(NOTHING);
  });
});

describe('GET /api/v1/idle: work under way keeps it', () => {
  test('a started browser sign-in keeps it until it expires', async () => {
    const b = await broker();
    const started = await b.request('POST', '/api/v1/providers/demo/login', { body: {} });
    expect(started.status).toBe(200);
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['login_pending'],
      description: "keeps running: a sign-in to 'demo' waits for its callback"
    });
    // login_state_ttl_seconds (600) later the callback would be refused anyway.
    b.advance(601);
    expect(await idleBody(b)).toEqual(NOTHING);
  });

  test('a completed browser sign-in no longer counts as pending (file store: can exit)', async () => {
    const b = await fileBroker();
    expect((await b.login()).status).toBe(200);
    expect((await idleBody(b)).keeps).not.toContain('login_pending');
  });

  test('a device login polling keeps it', async () => {
    const grantsIdp = await startGrantsIdP();
    try {
      const b = await startBroker(grantsIdp, {
        provider: { client_id: 'device-client', scopes: GRANTS_SCOPES }
      });
      brokers.push(b);
      const started = await b.request('POST', '/api/v1/providers/demo/login', {
        body: { method: 'device' }
      });
      expect(started.status).toBe(200);
      expect(await idleBody(b)).toEqual({
        can_exit: false,
        keeps: ['device_login_pending'],
        description: "keeps running: a device login to 'demo' is polling"
      });
      b.context.devices.cancel();
      expect(await idleBody(b)).toEqual(NOTHING);
    } finally {
      for (const b of brokers.splice(0)) {
        b.context.devices.cancel();
        await b.close();
      }
      await grantsIdp.close();
    }
  });

  test('a revocation queued because the IdP was unreachable at sign-out keeps it, whatever the store', async () => {
    const b = await fileBroker();
    expect((await b.login()).status).toBe(200);
    idp.down = true;
    const signedOut = await b.request('DELETE', '/api/v1/providers/demo/grant');
    expect(signedOut.json.upstream).toBe('retrying');
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['revocation_pending'],
      description: 'keeps running: a revocation waits for a retry at the identity provider'
    });

    idp.down = false;
    b.advance(31);
    expect(await b.context.revocations.retryDue()).toEqual({ revoked: 1, waiting: 0 });
    expect(await idleBody(b)).toEqual(NOTHING);
  });

  test('a queued revocation in the memory store is memory state too', async () => {
    const b = await broker();
    expect((await b.login()).status).toBe(200);
    idp.down = true;
    expect((await b.request('DELETE', '/api/v1/providers/demo/grant')).json.upstream).toBe(
      'retrying'
    );
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['memory_store_state', 'revocation_pending'],
      description:
        'keeps running: the memory store holds a queued revocation (a restart would lose it); ' +
        'a revocation waits for a retry at the identity provider'
    });
  });

  test('a refresh still under way after its caller got 503 at the deadline keeps it', async () => {
    const b = await fileBroker();
    expect((await b.login()).status).toBe(200);
    // The cached token is past its expiry: the next request refreshes, and the IdP answers 3 s
    // late (the broker's deadline is 2 s), having rotated the refresh token already.
    b.advance(3600);
    idp.lateMs = 3000;
    const asked = await b.request('POST', '/api/v1/providers/demo/token', { body: {} });
    expect(asked.status).toBe(503);
    expect(await idleBody(b)).toEqual({
      can_exit: false,
      keeps: ['refresh_in_flight'],
      description: 'keeps running: a token call to an identity provider is under way'
    });
    await b.context.tokens.settled();
    expect(await idleBody(b)).toEqual(NOTHING);
  }, 15000);
});

describe('GET /api/v1/idle: a hub provider keeps its login at the hub', () => {
  let hub: Server;
  let tokenUrl: string;

  beforeAll(async () => {
    // The hub's token route as `jupyter_token_broker.hub` answers it.
    hub = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(
        JSON.stringify({
          access_token: 'hub-access-token-for-tests',
          token_type: 'Bearer',
          expires_at: Math.floor(Date.now() / 1000) + 300,
          scope: 'openid'
        })
      );
    });
    await new Promise<void>(resolve => hub.listen(0, '127.0.0.1', resolve));
    const { port } = hub.address() as AddressInfo;
    tokenUrl = `http://127.0.0.1:${port}/hub/api/token-broker/v1/users/alice/token`;
  });
  afterAll(async () => {
    await new Promise<void>(resolve => hub.close(() => resolve()));
  });

  test('a memory-store broker that handed out a hub token can exit (the next start asks the hub)', async () => {
    const b = await startBroker(null, {
      providers: [
        {
          id: 'hub',
          title: 'Hub login',
          kind: 'hub',
          token_url: tokenUrl,
          hub_api_token: 'hub-server-token-for-tests'
        }
      ]
    });
    brokers.push(b);
    const token = await b.request('POST', '/api/v1/providers/hub/token', { body: {} });
    expect(token.status).toBe(200);
    expect(token.json.access_token).toBe('hub-access-token-for-tests');
    expect(await idleBody(b)).toEqual(NOTHING);
  });
});

describe('GET /api/v1/idle: the owner only, with the key', () => {
  test('an admin caller is refused 403 forbidden, and recorded as a denial', async () => {
    const b = await broker();
    const answer = await idle(b, {
      headers: { 'x-broker-caller': 'admin', 'x-broker-client': 'jupyterhub-admin' }
    });
    expect(answer.status).toBe(403);
    expect(answer.json.error).toBe('forbidden');
    const events = (await b.request('GET', '/api/v1/events')).json.events;
    expect(events[0]).toMatchObject({ type: 'denial', code: 'forbidden' });
  });

  test('without the broker key it is 401 unauthorized', async () => {
    const b = await broker();
    const answer = await idle(b, { key: false });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('unauthorized');
  });
});
