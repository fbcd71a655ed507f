/**
 * The hub admin page's API client and wording, through the `fetch` seam (no hub, no DOM).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AdminApi } from '../hub-admin/src/api';
import { AdminRequestError, explain } from '../hub-admin/src/errors';
import { names } from '../hub-admin/src/filters';
import { expiry } from '../hub-admin/src/time';

interface ISeen {
  url: string;
  init: RequestInit;
}

function fakeHub(status: number, body: unknown, headers: Record<string, string> = {}) {
  const seen: ISeen[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    seen.push({ url: String(input), init: init ?? {} });
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers });
  };
  return { api: new AdminApi('/hub/api/token-broker/v1/', 'xsrf-1', fetchImpl), seen };
}

async function failure(promise: Promise<unknown>): Promise<AdminRequestError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AdminRequestError);
    return error;
  }
  assert.fail('expected an AdminRequestError');
}

describe('hub admin API client', () => {
  it('sends the hub XSRF token and repeats user and group filters', async () => {
    const { api, seen } = fakeHub(200, { users: [] });
    await api.listUsers({ users: ['alice', 'bob'], groups: ['physics'] });
    assert.equal(
      seen[0].url,
      '/hub/api/token-broker/v1/admin/users?user=alice&user=bob&group=physics'
    );
    assert.equal((seen[0].init.headers as Record<string, string>)['X-XSRFToken'], 'xsrf-1');
    assert.equal(seen[0].init.credentials, 'same-origin');
  });

  it('posts a revocation as JSON to the user, name encoded', async () => {
    const { api, seen } = fakeHub(200, { user: 'a b', provider: null, outcome: 'ok', steps: [] });
    await api.revoke('a b', { provider: null, reason: 'left', force: false });
    assert.equal(seen[0].url, '/hub/api/token-broker/v1/admin/users/a%20b/revoke');
    assert.equal(seen[0].init.method, 'POST');
    assert.deepEqual(JSON.parse(String(seen[0].init.body)), {
      provider: null,
      reason: 'left',
      force: false
    });
  });

  it('turns a 503 into upstream_unavailable with Retry-After and keeps the per-step answer', async () => {
    const steps = [{ target: 'idp', outcome: 'error', code: 'upstream_unavailable' }];
    const { api } = fakeHub(
      503,
      {
        user: 'alice',
        outcome: 'error',
        steps,
        error: 'upstream_unavailable',
        error_description: 'The identity provider did not answer.'
      },
      { 'Retry-After': '30' }
    );
    const error = await failure(api.revoke('alice', { provider: null, reason: 'x', force: false }));
    assert.equal(error.status, 503);
    assert.equal(error.retryAfter, 30);
    assert.deepEqual((error.answer as { steps: unknown }).steps, steps);
    assert.equal(explain(error), 'The identity provider did not answer. Try again in 30 s.');
  });

  it("reads JupyterHub's own {message} errors and names the scope on 403", async () => {
    const { api } = fakeHub(403, { status: 403, message: 'Action is not authorized.' });
    const error = await failure(api.audit(null, 100));
    assert.equal(error.code, 'forbidden');
    assert.match(explain(error), /custom:token-broker:admin/);
  });

  it('says the hub cannot be reached when fetch fails', async () => {
    const api = new AdminApi('/hub/api/token-broker/v1/', 'x', async () => {
      throw new TypeError('Failed to fetch');
    });
    const error = await failure(api.listUsers({ users: [], groups: [] }));
    assert.equal(error.status, 0);
    assert.equal(error.code, 'network_error');
  });
});

describe('hub admin page wording', () => {
  it('splits filter names on commas and spaces, once each', () => {
    assert.deepEqual(names(' alice, bob  alice,,'), ['alice', 'bob']);
    assert.deepEqual(names(''), []);
  });

  it('shows expiries relative to now', () => {
    const now = 1_700_000_000_000;
    assert.match(expiry(1_700_000_300, now), /^in 5 min \(/);
    assert.match(expiry(1_699_999_990, now), /^expired 10 s ago \(/);
    assert.equal(expiry(null, now), '—');
  });
});
