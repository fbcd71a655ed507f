/**
 * A plugin's client: requests in its name, the consent flow, fetch with the bearer header and one
 * retry after a 401, and the picker.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TokenBroker, type AskConsent } from '../src/broker';
import { ConsentError, TokenBrokerError, TokenBrokerRequestError } from '../src/errors';
import type { ConsentDecision, IPickOptions, IProviderInfo } from '../src/tokens';
import { FakeBrokerApi, FakeHost, wireProvider } from './fakes';

const PLUGIN = '@acme/archive:plugin';
const NOW_MS = 1_900_000_000_000;

/**
 * A broker API that checks consent the way the real broker does: plugin ids need a recorded
 * allow / allow_always; a deny answers consent_denied.
 */
function consentingApi(options: { signedIn?: boolean } = {}) {
  const decisions = new Map<string, string>();
  let issued = 0;
  let signedIn = options.signedIn ?? true;
  const api = new FakeBrokerApi()
    .on('GET providers', () => ({
      status: 200,
      body: {
        providers: [
          wireProvider(signedIn ? { signed_in: true, needs_login: false, account: 'alice' } : {})
        ]
      }
    }))
    .on('POST providers/demo/token', request => {
      const client = request.headers.get('X-Token-Broker-Client') ?? '';
      if (client !== 'jupyterlab' && client !== 'kernel') {
        const decision = decisions.get(`${client} demo`);
        if (decision === 'deny') {
          return { status: 403, body: { error: 'consent_denied', error_description: 'denied' } };
        }
        if (decision !== 'allow' && decision !== 'allow_always') {
          return {
            status: 403,
            body: { error: 'consent_required', error_description: 'ask the person' }
          };
        }
      }
      if (!signedIn) {
        return { status: 401, body: { error: 'login_required', error_description: 'sign in' } };
      }
      issued += 1;
      const minTtl = (request.body as { min_ttl?: number } | undefined)?.min_ttl ?? 30;
      return {
        status: 200,
        body: {
          access_token: `token-${issued}`,
          token_type: 'Bearer',
          // A token that lives just long enough for the asked min_ttl, as a refresh would give.
          expires_at: NOW_MS / 1000 + Math.max(60, minTtl),
          expires_in: Math.max(60, minTtl),
          scopes: ['openid', 'demo:read'],
          provider: 'demo'
        }
      };
    })
    .on('PUT consents', request => {
      if (request.headers.get('X-Token-Broker-Client') !== 'jupyterlab') {
        return { status: 403, body: { error: 'forbidden', error_description: 'only JupyterLab' } };
      }
      const body = request.body as { client: string; provider: string; decision: string };
      decisions.set(`${body.client} ${body.provider}`, body.decision);
      return { status: 204 };
    })
    .on('POST providers/demo/login', () => ({
      status: 200,
      body: { authorization_url: 'http://127.0.0.1:9701/auth?state=s' }
    }));
  return {
    api,
    decisions,
    issued: () => issued,
    completeLogin: () => {
      signedIn = true;
    }
  };
}

function brokerWith(
  api: FakeBrokerApi,
  seams: {
    askConsent?: AskConsent;
    fetch?: typeof fetch;
    pickToken?: (
      providers: ReadonlyArray<IProviderInfo>,
      options: IPickOptions
    ) => Promise<{ provider: string; scopes: string[] } | null>;
    host?: FakeHost;
  } = {}
): TokenBroker {
  return new TokenBroker({
    serverSettings: api.settings(),
    host: (seams.host ?? new FakeHost()).asLoginHost(),
    askConsent: seams.askConsent,
    fetch: seams.fetch,
    pickToken: seams.pickToken,
    now: () => NOW_MS,
    loginTiming: { pollIntervalMs: 10, timeoutMs: 2000 }
  });
}

function answering(decision: ConsentDecision | null, asked: string[] = []): AskConsent {
  return async request => {
    asked.push(`${request.client} ${request.provider.title}`);
    return decision;
  };
}

describe('forClient', () => {
  it('sends the plugin id as X-Token-Broker-Client on token requests', async () => {
    const { api } = consentingApi();
    const broker = brokerWith(api, { askConsent: answering('allow') });
    await broker.forClient(PLUGIN).getSession('demo', [], { silent: false });
    const tokenCalls = api.seen.filter(r => r.path === 'providers/demo/token');
    assert.deepEqual(
      tokenCalls.map(r => r.headers.get('X-Token-Broker-Client')),
      [PLUGIN, PLUGIN]
    );
  });

  it('refuses client ids the server extension would not accept', () => {
    const broker = brokerWith(consentingApi().api);
    for (const bad of ['', 'has space', 'x'.repeat(129), 'semi;colon', 'new\nline']) {
      assert.throws(() => broker.forClient(bad), { code: 'invalid_request' });
    }
    assert.equal(broker.forClient(PLUGIN), broker.forClient(PLUGIN));
  });

  it('never asks consent for JupyterLab itself', async () => {
    const { api } = consentingApi();
    const asked: string[] = [];
    const broker = brokerWith(api, { askConsent: answering('deny', asked) });
    const session = await broker.forClient('jupyterlab').getSession('demo', []);
    assert.equal(session?.accessToken, 'token-1');
    assert.deepEqual(asked, []);
  });
});

describe('consent', () => {
  it('asks on consent_required, records the decision as jupyterlab, then retries once', async () => {
    const { api, decisions } = consentingApi();
    const asked: string[] = [];
    const broker = brokerWith(api, { askConsent: answering('allow_always', asked) });
    await broker.providers();
    const session = await broker.forClient(PLUGIN).getSession('demo', ['demo:read']);
    assert.equal(session?.accessToken, 'token-1');
    assert.deepEqual(asked, [`${PLUGIN} Demo IdP`]);
    assert.equal(decisions.get(`${PLUGIN} demo`), 'allow_always');
    const put = api.seen.find(r => r.method === 'PUT');
    assert.equal(put?.headers.get('X-Token-Broker-Client'), 'jupyterlab');
    assert.deepEqual(put?.body, { client: PLUGIN, provider: 'demo', decision: 'allow_always' });
    // Decided once: the next request asks no one.
    await broker.forClient(PLUGIN).getSession('demo', []);
    assert.equal(asked.length, 1);
  });

  it('records a deny and throws consent_denied, then keeps failing without asking', async () => {
    const { api, decisions } = consentingApi();
    const asked: string[] = [];
    const broker = brokerWith(api, { askConsent: answering('deny', asked) });
    const tokens = broker.forClient(PLUGIN);
    await assert.rejects(tokens.getSession('demo', [], { createIfNone: true }), error => {
      assert.ok(error instanceof ConsentError);
      assert.equal(error.code, 'consent_denied');
      assert.equal(error.client, PLUGIN);
      assert.equal(error.provider, 'demo');
      return true;
    });
    assert.equal(decisions.get(`${PLUGIN} demo`), 'deny');
    await assert.rejects(tokens.getSession('demo', []), { code: 'consent_denied' });
    assert.equal(asked.length, 1);
  });

  it('records nothing and throws consent_cancelled when the dialog is closed', async () => {
    const { api, decisions } = consentingApi();
    const broker = brokerWith(api, { askConsent: answering(null) });
    await assert.rejects(broker.forClient(PLUGIN).getSession('demo', []), {
      name: 'ConsentError',
      code: 'consent_cancelled'
    });
    assert.equal(decisions.size, 0);
    assert.ok(!api.seen.some(r => r.method === 'PUT'));
  });

  it('asks nothing and resolves undefined when silent', async () => {
    const { api } = consentingApi();
    const asked: string[] = [];
    const broker = brokerWith(api, { askConsent: answering('allow', asked) });
    assert.equal(
      await broker.forClient(PLUGIN).getSession('demo', [], { silent: true }),
      undefined
    );
    assert.deepEqual(asked, []);
  });

  it('shows one dialog for concurrent requests of the same plugin and provider', async () => {
    const { api } = consentingApi();
    const asked: string[] = [];
    let release: (d: ConsentDecision) => void = () => undefined;
    const broker = brokerWith(api, {
      askConsent: request => {
        asked.push(request.client);
        return new Promise(resolve => (release = resolve));
      }
    });
    const tokens = broker.forClient(PLUGIN);
    const both = Promise.all([tokens.getSession('demo', []), tokens.getSession('demo', [])]);
    await new Promise(resolve => setTimeout(resolve, 20));
    release('allow');
    const sessions = await both;
    assert.equal(asked.length, 1);
    assert.ok(sessions.every(s => s?.accessToken.startsWith('token-')));
  });

  it('passes consent_required on when there is no one to ask', async () => {
    const { api } = consentingApi();
    const broker = brokerWith(api);
    await assert.rejects(broker.forClient(PLUGIN).getSession('demo', []), error => {
      assert.ok(error instanceof TokenBrokerRequestError);
      assert.equal(error.code, 'consent_required');
      return true;
    });
  });

  it('asks consent, then signs in, for a plugin whose person is not signed in yet', async () => {
    const { api, completeLogin } = consentingApi({ signedIn: false });
    const host = new FakeHost();
    const broker = brokerWith(api, { askConsent: answering('allow'), host });
    const pending = broker.forClient(PLUGIN).getSession('demo', [], { createIfNone: true });
    while (host.popup?.location.href === '') {
      await new Promise(resolve => setTimeout(resolve, 5));
    }
    completeLogin();
    host.post({ source: 'jupyter-token-broker', type: 'login', provider: 'demo', ok: true });
    const session = await pending;
    assert.equal(session.accessToken, 'token-1');
    const login = api.seen.find(r => r.path === 'providers/demo/login');
    assert.equal(login?.headers.get('X-Token-Broker-Client'), PLUGIN);
  });

  it('lists and withdraws decisions', async () => {
    const api = new FakeBrokerApi()
      .on('GET consents', () => ({
        status: 200,
        body: {
          consents: [
            { client: PLUGIN, provider: 'demo', decision: 'allow_always', expires_at: null },
            { client: 'x', provider: 'demo', decision: 'maybe', expires_at: null }
          ]
        }
      }))
      .on('DELETE consents', () => ({ status: 204 }));
    const broker = brokerWith(api);
    const changes: string[] = [];
    broker.sessionsChanged.connect((_, change) => changes.push(change.provider));
    assert.deepEqual(await broker.consents(), [
      { client: PLUGIN, provider: 'demo', decision: 'allow_always', expiresAt: null }
    ]);
    await broker.withdrawConsent(PLUGIN, 'demo');
    const withdraw = api.seen.find(r => r.method === 'DELETE');
    assert.equal(withdraw?.query.get('client'), PLUGIN);
    assert.equal(withdraw?.query.get('provider'), 'demo');
    assert.equal(withdraw?.headers.get('X-Token-Broker-Client'), 'jupyterlab');
    assert.deepEqual(changes, ['demo']);
  });
});

describe('fetch', () => {
  type Seen = { url: string; method: string; authorization: string | null; body: string };

  function resourceServer(statuses: number[]) {
    const seen: Seen[] = [];
    const fetchFn = (async (input: RequestInfo | URL) => {
      const request = input as Request;
      seen.push({
        url: request.url,
        method: request.method,
        authorization: request.headers.get('Authorization'),
        body: await request.text()
      });
      return new Response('{}', { status: statuses[seen.length - 1] ?? 200 });
    }) as typeof fetch;
    return { seen, fetchFn };
  }

  it('adds the bearer header and keeps the request as given', async () => {
    const { api } = consentingApi();
    const server = resourceServer([200]);
    const broker = brokerWith(api, { askConsent: answering('allow'), fetch: server.fetchFn });
    const response = await broker.forClient(PLUGIN).fetch('https://api.example.org/items', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Trace': '1' },
      body: '{"name":"m31"}',
      provider: 'demo'
    });
    assert.equal(response.status, 200);
    assert.deepEqual(server.seen, [
      {
        url: 'https://api.example.org/items',
        method: 'POST',
        authorization: 'Bearer token-1',
        body: '{"name":"m31"}'
      }
    ]);
  });

  it('on a 401 gets a newer token once and retries with the same body', async () => {
    const { api, issued } = consentingApi();
    const server = resourceServer([401, 200]);
    const broker = brokerWith(api, { askConsent: answering('allow'), fetch: server.fetchFn });
    const response = await broker.forClient(PLUGIN).fetch('https://api.example.org/items', {
      method: 'PUT',
      body: 'payload',
      provider: 'demo'
    });
    assert.equal(response.status, 200);
    assert.deepEqual(
      server.seen.map(s => [s.authorization, s.body]),
      [
        ['Bearer token-1', 'payload'],
        ['Bearer token-2', 'payload']
      ]
    );
    assert.equal(issued(), 2);
    // The second token request asked for more lifetime than the first token had left.
    const tokenBodies = api.seen
      .filter(r => r.path === 'providers/demo/token')
      .map(r => r.body as { min_ttl?: number } | undefined);
    assert.equal(tokenBodies.at(-1)?.min_ttl, 61);
  });

  it('retries only once: a second 401 is the answer', async () => {
    const { api } = consentingApi();
    const server = resourceServer([401, 401, 200]);
    const broker = brokerWith(api, { askConsent: answering('allow'), fetch: server.fetchFn });
    const response = await broker
      .forClient(PLUGIN)
      .fetch('https://api.example.org/', { provider: 'demo' });
    assert.equal(response.status, 401);
    assert.equal(server.seen.length, 2);
  });

  it('does not retry with the same token when the broker has no newer one', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/token', () => ({
      status: 200,
      body: {
        access_token: 'same-token',
        token_type: 'Bearer',
        expires_at: NOW_MS / 1000 + 60,
        expires_in: 60,
        scopes: [],
        provider: 'demo'
      }
    }));
    const server = resourceServer([401]);
    const broker = brokerWith(api, { fetch: server.fetchFn });
    const response = await broker
      .forClient('jupyterlab')
      .fetch('https://api.example.org/', { provider: 'demo' });
    assert.equal(response.status, 401);
    assert.equal(server.seen.length, 1);
  });

  it('sends nothing and says login_required when no one is signed in', async () => {
    const { api } = consentingApi({ signedIn: false });
    const server = resourceServer([200]);
    const broker = brokerWith(api, { askConsent: answering('allow'), fetch: server.fetchFn });
    await assert.rejects(
      broker.forClient(PLUGIN).fetch('https://api.example.org/', { provider: 'demo' }),
      error => error instanceof TokenBrokerError && error.code === 'login_required'
    );
    assert.equal(server.seen.length, 0);
  });

  it('sends nothing to the API when consent is denied', async () => {
    const { api } = consentingApi();
    const server = resourceServer([200]);
    const broker = brokerWith(api, { askConsent: answering('deny'), fetch: server.fetchFn });
    await assert.rejects(
      broker.forClient(PLUGIN).fetch('https://api.example.org/', { provider: 'demo' }),
      { code: 'consent_denied' }
    );
    assert.equal(server.seen.length, 0);
  });
});

describe('pick', () => {
  it('gets a session for the picked provider and scopes', async () => {
    const { api } = consentingApi();
    const offered: string[][] = [];
    const broker = brokerWith(api, {
      askConsent: answering('allow'),
      pickToken: async providers => {
        offered.push(providers.map(p => p.id));
        return { provider: 'demo', scopes: ['demo:read'] };
      }
    });
    const session = await broker.forClient(PLUGIN).pick({ title: 'Which account?' });
    assert.equal(session?.accessToken, 'token-1');
    assert.deepEqual(offered, [['demo']]);
    const tokenCall = api.seen.filter(r => r.path === 'providers/demo/token').at(-1);
    assert.deepEqual(tokenCall?.body, { scopes: ['demo:read'] });
  });

  it('resolves undefined when the picker is cancelled', async () => {
    const { api } = consentingApi();
    const broker = brokerWith(api, { pickToken: async () => null });
    assert.equal(await broker.forClient(PLUGIN).pick(), undefined);
    assert.ok(!api.seen.some(r => r.path === 'providers/demo/token'));
  });

  it('offers only the providers asked for', async () => {
    const { api } = consentingApi();
    const broker = brokerWith(api, { pickToken: async () => null });
    await assert.rejects(broker.forClient(PLUGIN).pick({ providers: ['other'] }), {
      code: 'unknown_provider'
    });
  });
});
