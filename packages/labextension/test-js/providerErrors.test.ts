/**
 * A provider the broker cannot use carries its problem to its card: the broker's list says
 * `error: {code, description}` (a missing secret file is `config_error`, never a
 * network problem), and the card shows that text with that code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { toProviderInfo } from '../src/wire';

describe('provider problems from the broker list', () => {
  it('keeps a config_error with its description (a local file is not a network problem)', () => {
    const info = toProviderInfo({
      id: 'svc',
      error: {
        code: 'config_error',
        description: "The client_secret_file of provider 'svc' (/etc/tb/svc-secret) does not exist."
      }
    });
    assert.deepEqual(info.error, {
      code: 'config_error',
      description: "The client_secret_file of provider 'svc' (/etc/tb/svc-secret) does not exist."
    });
  });

  it('keeps an unreachable issuer as upstream_unavailable with its URL and cause', () => {
    const description =
      "Discovery of provider 'gone' at http://127.0.0.1:9/.well-known/openid-configuration failed: " +
      'The identity provider is unreachable (connect ECONNREFUSED 127.0.0.1:9).';
    const info = toProviderInfo({
      id: 'gone',
      error: { code: 'upstream_unavailable', description }
    });
    assert.deepEqual(info.error, { code: 'upstream_unavailable', description });
  });

  it('a provider without a problem has no error', () => {
    assert.equal(toProviderInfo({ id: 'demo' }).error, undefined);
  });
});
