/**
 * The egress from JupyterLab: which URLs a provider's egress covers, the URL of the Jupyter route,
 * and `client.fetch` choosing between the egress (the broker adds the token) and a token of its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TokenBroker, type AskConsent } from '../src/broker';
import { egressCovers, egressPrefixFor, egressUrl } from '../src/egress';
import { TokenBrokerError, TokenBrokerRequestError } from '../src/errors';
import { snippet, snippetRequest } from '../src/snippets';
import { toProviderInfo } from '../src/wire';
import { BASE_URL, FakeBrokerApi, FakeHost, wireProvider } from './fakes';

const PLUGIN = '@acme/archive:plugin';
const PREFIX = 'https://archive.example.org/tap/';
const ROUTE = 'egress/demo/https/archive.example.org';

/** What a fake route answers. */
type Answer = ReturnType<Parameters<FakeBrokerApi['on']>[1]>;

describe('egressCovers', () => {
  const covers = (url: string, prefix = PREFIX): boolean => egressCovers(prefix, new URL(url));

  it('covers URLs with the same scheme, host and port below the prefix path', () => {
    assert.ok(covers('https://archive.example.org/tap/'));
    assert.ok(covers('https://archive.example.org/tap/sync?query=select'));
    assert.ok(covers('https://ARCHIVE.example.org:443/tap/a/b'));
    assert.ok(covers('http://127.0.0.1:9401/api/x', 'http://127.0.0.1:9401/api/'));
    assert.ok(covers('http://[::1]:8443/v1/items', 'http://[::1]:8443/v1/'));
  });

  it('refuses another scheme, host, port or a path beside the prefix', () => {
    assert.ok(!covers('http://archive.example.org/tap/x'));
    assert.ok(!covers('https://archive.example.org.evil.net/tap/x'));
    assert.ok(!covers('https://archive.example.org:8443/tap/x'));
    assert.ok(!covers('https://archive.example.org/tapx'));
    assert.ok(!covers('https://archive.example.org/tap'));
    assert.ok(!covers('https://archive.example.org/admin/'));
    assert.ok(!covers('https://archive.example.org/tap/../admin/'));
    assert.ok(!covers('http://127.0.0.1:9402/api/x', 'http://127.0.0.1:9401/api/'));
  });

  it('ignores a prefix that is not a URL or does not end with /', () => {
    assert.ok(!covers('https://archive.example.org/tap/x', 'not a url'));
    assert.ok(!covers('https://archive.example.org/tapx', 'https://archive.example.org/tap'));
    assert.equal(
      egressPrefixFor(['nope', PREFIX], new URL('https://archive.example.org/tap/x')),
      PREFIX
    );
  });
});

describe('egressUrl', () => {
  const routed = (url: string): string => egressUrl(BASE_URL, 'demo', new URL(url));

  it('keeps scheme, host, port, path and query; drops the fragment', () => {
    assert.equal(
      routed('https://Archive.Example.org:8443/tap/a%20b/c%2Fd?x=%26&y=a+b#frag'),
      `${BASE_URL}token-broker/api/v1/egress/demo/https/archive.example.org:8443/tap/a%20b/c%2Fd?x=%26&y=a+b`
    );
    assert.equal(
      routed('http://[::1]:8443/v1'),
      `${BASE_URL}token-broker/api/v1/egress/demo/http/[::1]:8443/v1`
    );
    assert.equal(
      routed('https://archive.example.org'),
      `${BASE_URL}token-broker/api/v1/egress/demo/https/archive.example.org/`
    );
  });

  it('refuses other schemes and URLs with credentials', () => {
    assert.throws(() => routed('ftp://archive.example.org/x'), { code: 'invalid_request' });
    assert.throws(
      () => routed('https://me:secret@archive.example.org/tap/'),
      error => {
        assert.ok(error instanceof TokenBrokerError);
        assert.equal(error.code, 'invalid_request');
        assert.doesNotMatch(error.message, /secret/);
        return true;
      }
    );
  });
});

/** A broker API listing `demo` with an egress, answering the egress like the broker would. */
function egressApi(provider: Record<string, unknown> = {}) {
  const decisions = new Map<string, string>();
  const api = new FakeBrokerApi()
    .on('GET providers', () => ({
      status: 200,
      body: {
        providers: [
          wireProvider({
            signed_in: true,
            needs_login: false,
            account: 'alice',
            egress: [PREFIX],
            expose_token: true,
            ...provider
          })
        ]
      }
    }))
    .on('POST providers/demo/token', () => ({
      status: 200,
      body: {
        access_token: 'the-token',
        token_type: 'Bearer',
        expires_at: 1_900_000_060,
        expires_in: 60,
        scopes: ['demo:read'],
        provider: 'demo'
      }
    }))
    .on('PUT consents', request => {
      const body = request.body as { client: string; decision: string };
      decisions.set(body.client, body.decision);
      return { status: 204 };
    })
    .on(`POST ${ROUTE}/tap/items`, (request): Answer => {
      const client = request.headers.get('X-Token-Broker-Client') ?? '';
      if (client === PLUGIN && decisions.get(PLUGIN) !== 'allow') {
        return {
          status: 403,
          body: { error: 'consent_required', error_description: 'ask the person' },
          headers: { 'X-Token-Broker-Error': 'consent_required' }
        };
      }
      return { status: 201, body: { created: request.body }, headers: { ETag: '"v1"' } };
    })
    .on(`GET ${ROUTE}/tap/missing`, () => ({
      status: 404,
      body: { detail: 'the API has no such table' }
    }))
    .on(`GET ${ROUTE}/tap/down`, () => ({
      status: 502,
      headers: { 'X-Token-Broker-Error': 'upstream_unavailable' }
    }));
  return { api, decisions };
}

function brokerWith(api: FakeBrokerApi, seams: { fetch?: typeof fetch; askConsent?: AskConsent }) {
  return new TokenBroker({
    serverSettings: api.settings(),
    host: new FakeHost().asLoginHost(),
    fetch: seams.fetch,
    askConsent: seams.askConsent,
    now: () => 1_900_000_000_000
  });
}

/** A plain `fetch` that records what it was asked; a token path test's API. */
function recordingFetch(seen: Request[]): typeof fetch {
  return async (input, init) => {
    seen.push(new Request(input, init));
    return Response.json({ direct: true });
  };
}

describe('client.fetch', () => {
  it('sends a URL under the egress through the Jupyter server, with no token request', async () => {
    const { api } = egressApi();
    const direct: Request[] = [];
    const tokens = brokerWith(api, { fetch: recordingFetch(direct) }).forClient('jupyterlab');
    const response = await tokens.fetch(`${PREFIX}items`, {
      provider: 'demo',
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: 'Bearer the-callers-own',
        Cookie: 'sid=1'
      },
      body: JSON.stringify({ name: 'm31' })
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('ETag'), '"v1"');
    assert.deepEqual(await response.json(), { created: { name: 'm31' } });
    const call = api.seen.find(r => r.path.startsWith('egress/'));
    assert.equal(call?.path, `${ROUTE}/tap/items`);
    assert.equal(call?.headers.get('X-Token-Broker-Client'), 'jupyterlab');
    assert.equal(call?.headers.get('Content-Type'), 'application/json');
    // Jupyter's own credential, never the caller's.
    assert.equal(call?.headers.get('Authorization'), 'token server-token');
    assert.equal(call?.headers.get('Cookie'), null);
    assert.ok(!api.seen.some(r => r.path.endsWith('/token')));
    assert.equal(direct.length, 0);
  });

  it("returns the API's own error answers as they are", async () => {
    const { api } = egressApi();
    const tokens = brokerWith(api, {}).forClient('jupyterlab');
    const response = await tokens.fetch(`${PREFIX}missing`, { provider: 'demo' });
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), { detail: 'the API has no such table' });
  });

  it('throws the broker-made answers with their code', async () => {
    const { api } = egressApi();
    const tokens = brokerWith(api, {}).forClient('jupyterlab');
    await assert.rejects(tokens.fetch(`${PREFIX}down`, { provider: 'demo' }), error => {
      assert.ok(error instanceof TokenBrokerRequestError);
      assert.equal(error.status, 502);
      assert.equal(error.code, 'upstream_unavailable');
      return true;
    });
  });

  it("asks a plugin's consent once, then sends the same body again", async () => {
    const { api, decisions } = egressApi();
    const asked: string[] = [];
    const tokens = brokerWith(api, {
      askConsent: async request => {
        asked.push(request.client);
        return 'allow';
      }
    }).forClient(PLUGIN);
    const response = await tokens.fetch(`${PREFIX}items`, {
      provider: 'demo',
      method: 'POST',
      body: JSON.stringify({ name: 'm31' })
    });
    assert.deepEqual(await response.json(), { created: { name: 'm31' } });
    assert.deepEqual(asked, [PLUGIN]);
    assert.equal(decisions.get(PLUGIN), 'allow');
    const calls = api.seen.filter(r => r.path.startsWith('egress/'));
    assert.deepEqual(
      calls.map(r => r.body),
      [{ name: 'm31' }, { name: 'm31' }]
    );
  });

  it('sends a URL outside the egress with a token, as before', async () => {
    const { api } = egressApi();
    const direct: Request[] = [];
    const tokens = brokerWith(api, { fetch: recordingFetch(direct) }).forClient('jupyterlab');
    await tokens.fetch('https://api.example.org/items', { provider: 'demo' });
    assert.equal(direct.length, 1);
    assert.equal(direct[0].headers.get('Authorization'), 'Bearer the-token');
    assert.ok(!api.seen.some(r => r.path.startsWith('egress/')));
  });

  it('refuses a URL outside the egress of a provider that hands out no tokens, asking nothing', async () => {
    const { api } = egressApi({ expose_token: false });
    const direct: Request[] = [];
    const tokens = brokerWith(api, { fetch: recordingFetch(direct) }).forClient('jupyterlab');
    await assert.rejects(
      tokens.fetch('https://api.example.org/items', { provider: 'demo' }),
      error => {
        assert.ok(error instanceof TokenBrokerError);
        assert.equal(error.code, 'egress_not_allowed');
        assert.match(error.description, /hands out no tokens/);
        assert.match(error.description, /https:\/\/archive\.example\.org\/tap\//);
        return true;
      }
    );
    assert.equal(direct.length, 0);
    assert.ok(!api.seen.some(r => r.path.endsWith('/token') || r.path.startsWith('egress/')));
  });
});

describe('provider list and snippets', () => {
  it('reads egress and expose_token; an older broker exposes tokens', () => {
    const info = toProviderInfo({ id: 'demo', egress: [PREFIX], expose_token: false });
    assert.deepEqual([...info.egress], [PREFIX]);
    assert.equal(info.exposeToken, false);
    const older = toProviderInfo({ id: 'demo' });
    assert.deepEqual([...older.egress], []);
    assert.equal(older.exposeToken, true);
  });

  it('offers broker_session and BrokerTransport for a provider with an egress', () => {
    const info = toProviderInfo({ id: 'demo', egress: [PREFIX], expose_token: false });
    const requests = snippet('python-requests', snippetRequest(info, [], `${PREFIX}tables`));
    assert.match(requests, /from jupyter_token_broker import broker_session/);
    assert.match(requests, /session = broker_session\("demo"\)/);
    assert.match(requests, /session\.get\("https:\/\/archive\.example\.org\/tap\/tables"\)/);
    assert.doesNotMatch(requests, /BrokerAuth|get_token/);
    const httpx = snippet('python-httpx', snippetRequest(info, [], 'https://api.example.org/'));
    assert.match(httpx, /httpx\.Client\(transport=BrokerTransport\("demo"\)\)/);
    // The default URL is outside the egress: the snippet calls the prefix instead.
    assert.match(httpx, /client\.get\("https:\/\/archive\.example\.org\/tap\/"\)/);
  });

  it('asks no token in any language for a provider that hands out none', () => {
    const info = toProviderInfo({ id: 'demo', egress: [PREFIX], expose_token: false });
    for (const language of ['r-httr2', 'curl', 'javascript-fetch'] as const) {
      const code = snippet(language, snippetRequest(info, [], `${PREFIX}x`));
      assert.doesNotMatch(code, /get_token|Bearer/);
      assert.match(code, /broker_session\("demo"\)/);
    }
  });
});
