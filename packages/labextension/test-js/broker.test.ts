/**
 * TokenBroker through its seams: a fake broker API behind `fetch`, a fake window for popups.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TokenBroker } from '../src/broker';
import { SignInError, TokenBrokerRequestError } from '../src/errors';
import { signOutMessage } from '../src/signOutMessage';
import { FIRST_PARTY_CLIENT, type ISessionsChangeEvent } from '../src/tokens';
import { FakeBrokerApi, FakeHost, ORIGIN, settle, until, wireProvider } from './fakes';

const TIMING = { pollIntervalMs: 10, timeoutMs: 2000 };
const AUTH_URL = 'http://127.0.0.1:9701/auth?client_id=jupyter-demo&state=s&code_challenge=c';

function setup(options: { signedIn?: boolean; confirm?: boolean } = {}) {
  let signedIn = options.signedIn ?? false;
  const api = new FakeBrokerApi()
    .on('GET providers', () => ({
      status: 200,
      body: {
        providers: [
          wireProvider(
            signedIn
              ? { signed_in: true, needs_login: false, account: 'alice', expires_at: 2_000_000_000 }
              : {}
          )
        ]
      }
    }))
    .on('POST providers/demo/token', () =>
      signedIn
        ? {
            status: 200,
            body: {
              access_token: 'secret-access-token',
              token_type: 'Bearer',
              expires_at: 2_000_000_000,
              expires_in: 60,
              scopes: ['openid', 'demo:read'],
              provider: 'demo'
            }
          }
        : {
            status: 401,
            body: { error: 'login_required', error_description: "Provider 'demo' needs a login" }
          }
    )
    .on('POST providers/demo/login', () => ({
      status: 200,
      body: { authorization_url: AUTH_URL, expires_at: 2_000_000_000 }
    }))
    .on('DELETE providers/demo/grant', () => {
      signedIn = false;
      return { status: 204 };
    });
  const host = new FakeHost();
  const confirmed: string[] = [];
  const broker = new TokenBroker({
    serverSettings: api.settings(),
    host: host.asLoginHost(),
    loginTiming: TIMING,
    confirmSignIn: async provider => {
      confirmed.push(provider.title);
      return options.confirm ?? true;
    }
  });
  const changes: ISessionsChangeEvent[] = [];
  broker.sessionsChanged.connect((_, change) => changes.push(change));
  return {
    api,
    host,
    broker,
    changes,
    confirmed,
    completeLogin: () => {
      signedIn = true;
    }
  };
}

describe('providers', () => {
  it('lists providers in camelCase without token material', async () => {
    const { broker, api } = setup({ signedIn: true });
    const [demo] = await broker.providers();
    assert.deepEqual(demo, {
      id: 'demo',
      title: 'Demo IdP',
      kind: 'oidc',
      grant: 'authorization_code',
      narrowing: 'refuse',
      signedIn: true,
      account: 'alice',
      scopes: ['openid', 'demo:read'],
      expiresAt: 2_000_000_000,
      needsLogin: false,
      egress: [],
      exposeToken: true
    });
    assert.ok(Object.isFrozen(demo));
    assert.equal(api.seen[0].headers.get('Authorization'), 'token server-token');
    assert.equal(api.seen[0].headers.get('X-Token-Broker-Client'), 'jupyterlab');
  });

  it("dropped the broker's grant: a service account's provider says client_credentials", async () => {
    const api = new FakeBrokerApi().on('GET providers', () => ({
      status: 200,
      body: {
        providers: [
          wireProvider({ id: 'svc', kind: 'oauth2', grant: 'client_credentials', signed_in: true })
        ]
      }
    }));
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost() as never
    });
    const [svc] = await broker.providers();
    assert.equal(svc.kind, 'oauth2');
    assert.equal(svc.grant, 'client_credentials');
  });

  it('keeps the code and description of a provider the broker cannot use', async () => {
    const api = new FakeBrokerApi().on('GET providers', () => ({
      status: 200,
      body: {
        providers: [
          wireProvider({ error: { code: 'upstream_unavailable', description: 'fetch failed' } })
        ]
      }
    }));
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost() as never
    });
    const [demo] = await broker.providers();
    assert.deepEqual(demo.error, { code: 'upstream_unavailable', description: 'fetch failed' });
  });
});

describe('getSession', () => {
  it('returns a frozen session with the token when signed in', async () => {
    const { broker, api } = setup({ signedIn: true });
    await broker.providers();
    const session = await broker
      .forClient(FIRST_PARTY_CLIENT)
      .getSession('demo', ['demo:read'], { minTtl: 30 });
    assert.ok(session);
    assert.equal(session.accessToken, 'secret-access-token');
    assert.equal(session.id, 'demo:alice');
    assert.deepEqual(session.scopes, ['openid', 'demo:read']);
    assert.ok(Object.isFrozen(session));
    const tokenCall = api.seen.find(r => r.path === 'providers/demo/token');
    assert.deepEqual(tokenCall?.body, { scopes: ['demo:read'], min_ttl: 30 });
  });

  it('resolves undefined without UI when not signed in and not asked to create', async () => {
    const { broker, host, confirmed } = setup();
    assert.equal(
      await broker.forClient(FIRST_PARTY_CLIENT).getSession('demo', [], { silent: true }),
      undefined
    );
    assert.equal(await broker.forClient(FIRST_PARTY_CLIENT).getSession('demo', []), undefined);
    assert.equal(host.opened.length, 0);
    assert.equal(confirmed.length, 0);
  });

  it('signs in through confirm + popup for createIfNone, then returns the session', async () => {
    const { broker, host, confirmed, completeLogin } = setup();
    const pending = broker
      .forClient(FIRST_PARTY_CLIENT)
      .getSession('demo', [], { createIfNone: true });
    await until(() => host.popup?.location.href === AUTH_URL);
    assert.deepEqual(confirmed, ['demo']);
    completeLogin();
    host.post({ source: 'jupyter-token-broker', type: 'login', provider: 'demo', ok: true });
    const session = await pending;
    assert.equal(session.accessToken, 'secret-access-token');
  });

  it('the sign-in dialog said "A JupyterLab extension asks" without naming it: it gets the client label', async () => {
    const api = new FakeBrokerApi()
      .on('GET providers', () => ({ status: 200, body: { providers: [wireProvider()] } }))
      .on('POST providers/demo/token', () => ({
        status: 401,
        body: { error: 'login_required', error_description: 'needs a login' }
      }));
    const asked: Array<[string, string]> = [];
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost().asLoginHost(),
      confirmSignIn: async (provider, client) => {
        asked.push([provider.id, client]);
        return false;
      }
    });
    await assert.rejects(
      broker.forClient('@acme/archive:plugin').getSession('demo', [], { createIfNone: true }),
      { code: 'login_cancelled' }
    );
    assert.deepEqual(asked, [['demo', '@acme/archive:plugin']]);
  });

  it('rejects with login_cancelled when the person declines the sign-in', async () => {
    const { broker, host } = setup({ confirm: false });
    await assert.rejects(
      broker.forClient(FIRST_PARTY_CLIENT).getSession('demo', [], { createIfNone: true }),
      {
        name: 'SignInError',
        code: 'login_cancelled'
      }
    );
    assert.equal(host.opened.length, 0);
  });

  it('refuses silent together with createIfNone', async () => {
    const { broker } = setup();
    await assert.rejects(
      broker
        .forClient(FIRST_PARTY_CLIENT)
        .getSession('demo', [], { silent: true, createIfNone: true }),
      (error: unknown) => (error as { code?: string }).code === 'invalid_request'
    );
  });

  it('passes other broker errors through as TokenBrokerRequestError', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/token', () => ({
      status: 403,
      body: { error: 'scope_not_allowed', error_description: 'scope admin is not allowed' }
    }));
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost() as never
    });
    await assert.rejects(
      broker.forClient(FIRST_PARTY_CLIENT).getSession('demo', ['admin'], { createIfNone: true }),
      error => {
        assert.ok(error instanceof TokenBrokerRequestError);
        assert.equal(error.status, 403);
        assert.equal(error.code, 'scope_not_allowed');
        assert.equal(error.description, 'scope admin is not allowed');
        return true;
      }
    );
  });
});

describe('signIn', () => {
  it('opens the named popup before awaiting anything', () => {
    const { broker, host } = setup();
    const pending = broker.signIn('demo');
    // Synchronously, before any promise settled: the popup is already open.
    assert.deepEqual(host.opened, [
      { url: '', name: 'token-broker-login', features: 'popup,width=520,height=720' }
    ]);
    host.popup?.close();
    return assert.rejects(pending, { code: 'login_cancelled' });
  });

  it('ignores messages from other origins, sources and providers', async () => {
    const { broker, host, completeLogin, changes } = setup();
    let done = false;
    const pending = broker.signIn('demo').then(() => {
      done = true;
    });
    await until(() => host.popup?.location.href === AUTH_URL);
    const ok = { source: 'jupyter-token-broker', type: 'login', provider: 'demo', ok: true };
    host.post(ok, 'http://evil.example');
    host.post({ ...ok, source: 'someone-else' });
    host.post({ ...ok, provider: 'other' });
    await settle(30);
    assert.equal(done, false);
    completeLogin();
    host.post(ok, ORIGIN);
    await pending;
    assert.equal(host.listenerCount, 0);
    // One when the sign-in started, one when it completed.
    assert.deepEqual(changes, [{ provider: 'demo' }, { provider: 'demo' }]);
  });

  it('Sign in stayed enabled during a sign-in a plugin started: signingIn() says so, from start to outcome', async () => {
    const { broker, host, completeLogin, changes } = setup();
    assert.equal(broker.signingIn('demo'), false);
    const pending = broker
      .forClient('@acme/archive:plugin')
      .getSession('demo', [], { createIfNone: true });
    await until(() => host.popup?.location.href === AUTH_URL);
    assert.equal(broker.signingIn('demo'), true);
    assert.equal(broker.signingIn('other'), false);
    assert.deepEqual(changes, [{ provider: 'demo' }], 'listeners heard that a sign-in started');
    const heard: boolean[] = [];
    broker.sessionsChanged.connect(() => heard.push(broker.signingIn('demo')));
    completeLogin();
    host.post({ source: 'jupyter-token-broker', type: 'login', provider: 'demo', ok: true });
    await pending;
    assert.equal(broker.signingIn('demo'), false);
    assert.deepEqual(heard, [false], 'no longer signing in when the outcome is announced');
  });

  it('a failed sign-in ends signingIn() and is announced', async () => {
    const { broker, host, changes } = setup();
    const pending = broker.signIn('demo');
    await until(() => host.popup?.location.href === AUTH_URL);
    host.popup?.close();
    await assert.rejects(pending, { code: 'login_cancelled' });
    assert.equal(broker.signingIn('demo'), false);
    assert.deepEqual(changes, [{ provider: 'demo' }, { provider: 'demo' }]);
  });

  it('rejects with login_failed when the callback reports an error', async () => {
    const { broker, host } = setup();
    const pending = broker.signIn('demo');
    await until(() => host.popup?.location.href === AUTH_URL);
    host.post({
      source: 'jupyter-token-broker',
      type: 'login',
      provider: null,
      ok: false,
      error: 'invalid_request'
    });
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof SignInError);
      assert.equal(error.code, 'login_failed');
      assert.match(error.description, /invalid_request/);
      return true;
    });
  });

  it('counts a popup closed after a completed login as success', async () => {
    const { broker, host, completeLogin } = setup();
    const pending = broker.signIn('demo');
    await until(() => host.popup?.location.href === AUTH_URL);
    completeLogin();
    host.popup?.close();
    await pending;
  });

  it('rejects with popup_blocked when the browser opens no window', async () => {
    const { broker, host, api } = setup();
    host.popup = null;
    await assert.rejects(broker.signIn('demo'), { code: 'popup_blocked' });
    assert.equal(api.seen.length, 0);
  });

  it('closes the popup and never navigates to a non-http authorization URL', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/login', () => ({
      status: 200,
      body: { authorization_url: 'javascript:alert(1)' }
    }));
    const host = new FakeHost();
    const broker = new TokenBroker({ serverSettings: api.settings(), host: host.asLoginHost() });
    await assert.rejects(broker.signIn('demo'), { code: 'login_failed' });
    assert.equal(host.popup?.location.href, '');
    assert.equal(host.popup?.closed, true);
  });

  it('closes the popup when the broker refuses to start the login', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/login', () => ({
      status: 503,
      body: { error: 'upstream_unavailable', error_description: 'IdP down' }
    }));
    const host = new FakeHost();
    const broker = new TokenBroker({ serverSettings: api.settings(), host: host.asLoginHost() });
    await assert.rejects(broker.signIn('demo'), { code: 'upstream_unavailable', status: 503 });
    assert.equal(host.popup?.closed, true);
  });
});

describe('signOut', () => {
  it('deletes the grant and signals the change', async () => {
    const { broker, api, changes } = setup({ signedIn: true });
    await broker.providers();
    await broker.signOut('demo');
    assert.ok(api.seen.some(r => r.method === 'DELETE' && r.path === 'providers/demo/grant'));
    assert.deepEqual(changes, [{ provider: 'demo' }]);
    const [demo] = await broker.providers();
    assert.equal(demo.signedIn, false);
  });

  it('a 204 is a sign-in the identity provider revoked too', async () => {
    const { broker } = setup({ signedIn: true });
    assert.deepEqual(await broker.signOut('demo'), { revoked: true });
  });

  it("a 200 carries the broker's notice: signed out here, not at the identity provider", async () => {
    const { broker, api, changes } = setup({ signedIn: true });
    const description =
      'Signed out here; the identity provider was not asked to revoke (no revocation endpoint): ' +
      'the sign-in stays valid there until it expires.';
    api.on('DELETE providers/demo/grant', () => ({
      status: 200,
      body: { upstream: 'not_supported', description }
    }));
    const result = await broker.signOut('demo');
    assert.deepEqual(result, {
      revoked: false,
      notice: { upstream: 'not_supported', description }
    });
    assert.deepEqual(changes, [{ provider: 'demo' }]);
    assert.deepEqual(signOutMessage('Demo IdP', result), {
      text: `Demo IdP: ${description}`,
      warning: true
    });
    assert.deepEqual(signOutMessage('Demo IdP', { revoked: true }), {
      text: 'Signed out of Demo IdP',
      warning: false
    });
  });
});
