/**
 * Plugin consents through HTTP: a plugin client label needs the user's decision, only JupyterLab
 * records decisions, session allows expire and stay in memory, allow_always and deny persist in a
 * durable store's records, and every decision is audited.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';

import { MemoryRecords } from '../../src/stores/records.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startIdP, type IdP } from '../fixtures/idp.js';

const PLUGIN = '@vo/archive-browser:plugin';
const asPlugin = { 'x-broker-client': PLUGIN };
const asLab = { 'x-broker-client': 'jupyterlab' };

/** A store whose records outlive a broker, as a file or keyring store's do. */
class DurableStore extends MemoryStore {
  readonly records = new MemoryRecords();
  override async close(): Promise<void> {
    // Kept for the next broker, like a file on disk.
  }
}

function tokenFor(broker: TestBroker, headers: Record<string, string>) {
  return broker.request('POST', '/api/v1/providers/demo/token', { body: {}, headers });
}

function decide(broker: TestBroker, decision: string, headers = asLab) {
  return broker.request('PUT', '/api/v1/consents', {
    body: { client: PLUGIN, provider: 'demo', decision },
    headers
  });
}

describe('consents', () => {
  let idp: IdP;
  let broker: TestBroker;
  let store: DurableStore;

  beforeEach(async () => {
    idp = await startIdP();
    store = new DurableStore();
    broker = await startBroker(idp, { store, config: { consent_session_seconds: 600 } });
    expect((await broker.login()).status).toBe(200);
  });
  afterEach(async () => {
    await broker.close();
    await idp.close();
  });

  test('first-party clients need no consent; a plugin gets consent_required', async () => {
    expect((await tokenFor(broker, asLab)).status).toBe(200);
    expect((await tokenFor(broker, { 'x-broker-client': 'kernel' })).status).toBe(200);
    const plugin = await tokenFor(broker, asPlugin);
    expect(plugin.status).toBe(403);
    expect(plugin.json.error).toBe('consent_required');
    expect(plugin.text).not.toContain('access_token');
    const events = (await broker.request('GET', '/api/v1/events')).json.events;
    expect(events[0]).toMatchObject({
      type: 'denial',
      client: PLUGIN,
      outcome: 'denied',
      code: 'consent_required'
    });
  });

  test('only JupyterLab records or withdraws decisions, never the plugin itself', async () => {
    const self = await decide(broker, 'allow_always', asPlugin);
    expect(self.status).toBe(403);
    expect(self.json.error).toBe('forbidden');
    const kernel = await decide(broker, 'allow', { 'x-broker-client': 'kernel' });
    expect(kernel.status).toBe(403);
    const withdraw = await broker.request(
      'DELETE',
      `/api/v1/consents?client=${encodeURIComponent(PLUGIN)}&provider=demo`,
      { headers: asPlugin }
    );
    expect(withdraw.status).toBe(403);
    expect((await tokenFor(broker, asPlugin)).json.error).toBe('consent_required');
  });

  test('bad consent bodies are 400, unknown providers 404', async () => {
    const cases: Array<[unknown, number]> = [
      [{ client: PLUGIN, provider: 'demo', decision: 'maybe' }, 400],
      [{ client: 'jupyterlab', provider: 'demo', decision: 'allow' }, 400],
      [{ client: 'bad label', provider: 'demo', decision: 'allow' }, 400],
      [{ client: PLUGIN, provider: 'demo', decision: 'allow', extra: 1 }, 400],
      [{ client: PLUGIN, provider: 'nope', decision: 'allow' }, 404]
    ];
    for (const [body, status] of cases) {
      const answer = await broker.request('PUT', '/api/v1/consents', { body, headers: asLab });
      expect([body, answer.status]).toEqual([body, status]);
    }
  });

  test('allow lasts for the session only, then consent is asked again', async () => {
    expect((await decide(broker, 'allow')).status).toBe(204);
    expect((await tokenFor(broker, asPlugin)).status).toBe(200);
    const listed = (await broker.request('GET', '/api/v1/consents')).json.consents;
    expect(listed).toEqual([
      { client: PLUGIN, provider: 'demo', decision: 'allow', expires_at: expect.any(Number) }
    ]);
    expect(await store.records.getRecords('consents')).toEqual({});
    broker.advance(601);
    expect((await tokenFor(broker, asPlugin)).json.error).toBe('consent_required');
    expect((await broker.request('GET', '/api/v1/consents')).json.consents).toEqual([]);
  });

  test('deny gives consent_denied; withdrawing it asks again; decisions are audited', async () => {
    expect((await decide(broker, 'deny')).status).toBe(204);
    expect((await tokenFor(broker, asPlugin)).json.error).toBe('consent_denied');
    const withdrawn = await broker.request(
      'DELETE',
      `/api/v1/consents?client=${encodeURIComponent(PLUGIN)}&provider=demo`,
      { headers: asLab }
    );
    expect(withdrawn.status).toBe(204);
    expect((await tokenFor(broker, asPlugin)).json.error).toBe('consent_required');
    const consents = (await broker.request('GET', '/api/v1/events')).json.events.filter(
      (e: { type: string }) => e.type === 'consent'
    );
    expect(consents.map((e: { reason: string }) => e.reason)).toEqual([
      `withdrawn for ${PLUGIN}`,
      `deny for ${PLUGIN}`
    ]);
    expect(consents[0]).toMatchObject({ client: 'jupyterlab', provider: 'demo', outcome: 'ok' });
  });

  test('allow_always and deny survive a broker restart on a durable store; allow does not', async () => {
    expect((await decide(broker, 'allow_always')).status).toBe(204);
    await broker.close();
    broker = await startBroker(idp, { store });
    expect((await broker.login()).status).toBe(200);
    expect((await tokenFor(broker, asPlugin)).status).toBe(200);
    expect((await broker.request('GET', '/api/v1/consents')).json.consents).toEqual([
      { client: PLUGIN, provider: 'demo', decision: 'allow_always', expires_at: null }
    ]);

    expect((await decide(broker, 'allow')).status).toBe(204);
    await broker.close();
    broker = await startBroker(idp, { store });
    expect((await broker.login()).status).toBe(200);
    expect((await tokenFor(broker, asPlugin)).json.error).toBe('consent_required');
  });
});
