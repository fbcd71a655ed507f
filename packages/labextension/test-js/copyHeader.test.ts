/**
 * Copying the Authorization header and the countdown text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { TokenBroker } from '../src/broker';
import { copiedMessage, copyAuthorizationHeader } from '../src/copyHeader';
import { formatDuration, formatRemaining, secondsLeft } from '../src/expiry';
import { FakeBrokerApi, FakeHost } from './fakes';

describe('copyAuthorizationHeader', () => {
  it('writes the header to the clipboard and tells the seconds left', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/token', () => ({
      status: 200,
      body: {
        access_token: 'secret-access-token',
        token_type: 'Bearer',
        expires_at: 1_000_060,
        expires_in: 60,
        scopes: ['demo:read'],
        provider: 'demo'
      }
    }));
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost() as never
    });
    const copied: string[] = [];
    const left = await copyAuthorizationHeader(broker.forClient('jupyterlab'), 'demo', {
      clipboard: async text => {
        copied.push(text);
      },
      now: () => 1_000_003_000
    });
    assert.deepEqual(copied, ['Authorization: Bearer secret-access-token']);
    assert.equal(left, 57);
    const message = copiedMessage('Demo IdP', left);
    assert.match(
      message,
      /^Copied a secret Authorization header for Demo IdP; it expires in 57 s\./
    );
    assert.ok(!message.includes('secret-access-token'));
    assert.match(copiedMessage('Demo IdP', 3600), /expires in 60 min/);
  });

  it('copies nothing and says login_required when no one is signed in', async () => {
    const api = new FakeBrokerApi().on('POST providers/demo/token', () => ({
      status: 401,
      body: { error: 'login_required', error_description: 'needs a login' }
    }));
    const broker = new TokenBroker({
      serverSettings: api.settings(),
      host: new FakeHost() as never
    });
    const copied: string[] = [];
    await assert.rejects(
      copyAuthorizationHeader(broker.forClient('jupyterlab'), 'demo', {
        clipboard: async t => void copied.push(t)
      }),
      { code: 'login_required' }
    );
    assert.deepEqual(copied, []);
  });
});

describe('expiry', () => {
  it('formats m:ss and h:mm:ss', () => {
    assert.equal(formatRemaining(57), '0:57');
    assert.equal(formatRemaining(725), '12:05');
    assert.equal(formatRemaining(3723), '1:02:03');
    assert.equal(formatRemaining(-3), '0:00');
  });

  it('says durations in words for notifications', () => {
    assert.equal(formatDuration(57), '57 s');
    assert.equal(formatDuration(119), '119 s');
    assert.equal(formatDuration(300), '5 min');
    assert.equal(formatDuration(7200), '2 h');
    assert.equal(formatDuration(7500), '2 h 5 min');
  });

  it('never goes below zero', () => {
    assert.equal(secondsLeft(100, 99_500), 0);
    assert.equal(secondsLeft(100, 200_000), 0);
    assert.equal(secondsLeft(160, 100_000), 60);
  });
});
