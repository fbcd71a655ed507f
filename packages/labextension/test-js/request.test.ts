/**
 * The one request function: typed errors from every kind of failed answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TokenBrokerRequestError } from '../src/errors';
import { requestBroker } from '../src/request';
import { FakeBrokerApi } from './fakes';

async function failure(api: FakeBrokerApi, path: string): Promise<TokenBrokerRequestError> {
  try {
    await requestBroker(path, { method: 'POST', body: {} }, api.settings());
  } catch (error) {
    assert.ok(error instanceof TokenBrokerRequestError);
    return error;
  }
  throw new Error('expected a failure');
}

describe('requestBroker', () => {
  it('sends JSON with the Jupyter token and answers parsed JSON', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/token', () => ({
      status: 200,
      body: { ok: 1 }
    }));
    const answer = await requestBroker<{ ok: number }>(
      'providers/demo/token',
      { method: 'POST', body: { min_ttl: 5 } },
      api.settings()
    );
    assert.deepEqual(answer, { ok: 1 });
    assert.equal(api.seen[0].headers.get('Content-Type'), 'application/json');
    assert.equal(api.seen[0].headers.get('Authorization'), 'token server-token');
    assert.deepEqual(api.seen[0].body, { min_ttl: 5 });
  });

  it('answers undefined for 204', async () => {
    const api = new FakeBrokerApi().on('DELETE providers/demo/grant', () => ({ status: 204 }));
    const settings = api.settings();
    assert.equal(
      await requestBroker('providers/demo/grant', { method: 'DELETE' }, settings),
      undefined
    );
  });

  it("carries the broker's code and description", async () => {
    const api = new FakeBrokerApi().on('POST x', () => ({
      status: 503,
      body: { error: 'store_unavailable', error_description: 'keyring locked' }
    }));
    const error = await failure(api, 'x');
    assert.equal(error.status, 503);
    assert.equal(error.code, 'store_unavailable');
    assert.equal(error.description, 'keyring locked');
  });

  it("derives a code from the status for Jupyter's own HTML errors", async () => {
    const api = new FakeBrokerApi().on('POST x', () => ({
      status: 403,
      text: '<html>XSRF cookie does not match POST argument</html>'
    }));
    const error = await failure(api, 'x');
    assert.equal(error.code, 'forbidden');
    assert.equal(error.status, 403);
  });

  it('uses the message of Jupyter JSON errors', async () => {
    const api = new FakeBrokerApi().on('POST x', () => ({
      status: 401,
      body: { message: 'Forbidden', reason: null }
    }));
    const error = await failure(api, 'x');
    assert.equal(error.code, 'unauthorized');
    assert.equal(error.description, 'Forbidden');
  });

  it('reports network failures as network_error with status 0', async () => {
    const api = new FakeBrokerApi();
    const settings = {
      ...api.settings(),
      fetch: () => Promise.reject(new TypeError('Failed to fetch'))
    };
    await assert.rejects(requestBroker('providers', {}, settings), {
      name: 'TokenBrokerRequestError',
      code: 'network_error',
      status: 0
    });
  });

  it('refuses a success answer that is not JSON', async () => {
    const api = new FakeBrokerApi().on('POST x', () => ({ status: 200, text: '<html></html>' }));
    assert.equal((await failure(api, 'x')).code, 'invalid_response');
  });
});
