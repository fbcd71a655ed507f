/**
 * What the panel and the status bar show: JWT claims (never the token), audit events, the status
 * text, and preferences read from the settings registry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { describeEvent, eventText } from '../src/activityList';
import { EXPIRED_TEXT, expiryText, isExpired, NO_TOKEN_TEXT, secondsLeft } from '../src/expiry';
import { clientName, describeClient } from '../src/pluginNames';
import { decodeClaims } from '../src/jwtClaims';
import { DEFAULT_PREFERENCES, readPreferences } from '../src/preferences';
import { statusText } from '../src/statusText';
import { toAuditEvent, toProviderInfo, type ProviderWire } from '../src/wire';
import { wireProvider } from './fakes';

function jwt(payload: unknown, header: unknown = { alg: 'RS256', typ: 'at+jwt' }): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(payload)}.c2lnbmF0dXJl`;
}

describe('decodeClaims', () => {
  it('shows the claims of a JWT, times as dates, never the token', () => {
    const token = jwt({ sub: 'alice', exp: 1_900_000_000, scope: 'openid demo:read', aud: ['a'] });
    const claims = decodeClaims(token);
    assert.deepEqual(claims, [
      { name: 'sub', value: 'alice' },
      { name: 'exp', value: '2030-03-17T17:46:40.000Z (1900000000)' },
      { name: 'scope', value: 'openid demo:read' },
      { name: 'aud', value: '["a"]' }
    ]);
    const shown = JSON.stringify(claims);
    for (const part of token.split('.')) {
      assert.ok(!shown.includes(part), 'no part of the token is among the claims shown');
    }
  });

  it('decodes UTF-8 claims', () => {
    assert.deepEqual(decodeClaims(jwt({ name: 'Zoë' })), [{ name: 'name', value: 'Zoë' }]);
  });

  it('treats opaque and malformed tokens as having no claims', () => {
    for (const token of [
      'opaque-access-token',
      'a.b',
      'a.b.c.d.e',
      `x.${Buffer.from('not json').toString('base64url')}.y`,
      `x.${Buffer.from('[1,2]').toString('base64url')}.y`,
      'x.%%%.y',
      'x..y'
    ]) {
      assert.equal(decodeClaims(token), null, token);
    }
  });
});

describe('audit events', () => {
  it('reads the ISO time, and shows a line without token material', () => {
    const iso = toAuditEvent({
      time: '2030-01-01T00:00:00.000Z',
      type: 'denial',
      provider: 'demo',
      client: '@acme/archive:plugin',
      scopes: ['demo:read'],
      outcome: 'denied',
      code: 'consent_denied'
    });
    assert.equal(iso.time, Date.UTC(2030, 0, 1));
    assert.deepEqual(iso.scopes, ['demo:read']);
    assert.match(eventText(iso), /denial demo · Archive · denied \(consent_denied\)$/);
    assert.equal(describeEvent(iso).tone, 'info', 'refused after the person denied it: no problem');
  });

  const event = (fields: Record<string, unknown>) =>
    toAuditEvent({ time: '2030-01-01T00:00:00.000Z', provider: 'demo', ...fields });
  const archive = '@jupyter-token-broker/archive-browser:plugin';

  it('showed a red "denied (consent_required)" before the person chose: it reads "consent asked"', () => {
    const asked = describeEvent(
      event({ type: 'denial', client: archive, outcome: 'denied', code: 'consent_required' })
    );
    assert.match(asked.text, /consent asked demo · Archive Browser$/);
    assert.doesNotMatch(asked.text, /denied/);
    assert.equal(asked.tone, 'info');
    const notSignedIn = describeEvent(
      event({ type: 'denial', client: 'kernel', outcome: 'denied', code: 'login_required' })
    );
    assert.match(notSignedIn.text, /sign-in needed demo · Notebook kernel$/);
    assert.equal(notSignedIn.tone, 'info');
  });

  it('Deny, Withdraw and Allow all read "consent demo · jupyterlab · ok": each says its decision and plugin', () => {
    const lines = ['allow', 'allow_always', 'deny', 'withdrawn'].map(decision =>
      describeEvent(
        event({
          type: 'consent',
          client: 'jupyterlab',
          outcome: 'ok',
          reason: `${decision} for ${archive}`
        })
      )
    );
    assert.deepEqual(
      lines.map(line => line.text.slice(line.text.indexOf('consent '))),
      [
        'consent demo · Archive Browser · allowed for this session',
        'consent demo · Archive Browser · always allowed',
        'consent demo · Archive Browser · denied',
        'consent demo · Archive Browser · decision withdrawn'
      ]
    );
    assert.ok(lines.every(line => line.tone === 'ok'));
    const odd = describeEvent(
      event({ type: 'consent', client: 'jupyterlab', outcome: 'ok', reason: 'something else' })
    );
    assert.match(odd.text, /consent demo · JupyterLab · ok$/);
  });

  it('names first-party clients and keeps errors as problems', () => {
    const login = describeEvent(event({ type: 'login', client: 'jupyterlab', outcome: 'ok' }));
    assert.match(login.text, /login demo · JupyterLab · ok$/);
    const failed = describeEvent(
      event({ type: 'refresh', client: null, outcome: 'error', code: 'upstream_unavailable' })
    );
    assert.match(failed.text, /refresh demo · error \(upstream_unavailable\)$/);
    assert.equal(failed.tone, 'problem');
  });
});

describe('client names', () => {
  it('dialogs showed the raw plugin id: a plugin is named by its package, JupyterLab by its name', () => {
    assert.equal(clientName('@jupyter-token-broker/archive-browser:plugin'), 'Archive Browser');
    assert.equal(clientName('@acme/vo-tap_client:plugin'), 'Vo Tap Client');
    assert.equal(clientName('jupyterlab-git:plugin'), 'Jupyterlab Git');
    assert.equal(clientName('jupyterlab'), 'JupyterLab');
    assert.equal(clientName('kernel'), 'Notebook kernel');
    assert.equal(clientName('@acme/:x'), '@acme/:x');
  });

  it('adds the description JupyterLab knows, and none for first-party or unknown plugins', () => {
    const descriptions: Record<string, string> = { 'a:plugin': ' Lists the archive. ' };
    const describe = (id: string): string => {
      const found = descriptions[id];
      if (found === undefined) {
        throw new Error(`no plugin ${id}`);
      }
      return found;
    };
    assert.deepEqual(describeClient('a:plugin', describe), {
      name: 'A',
      id: 'a:plugin',
      description: 'Lists the archive.'
    });
    assert.equal(describeClient('b:plugin', describe).description, '');
    assert.equal(describeClient('jupyterlab', () => 'JupyterLab itself').description, '');
  });
});

describe('statusText', () => {
  const info = (overrides: Record<string, unknown>) =>
    toProviderInfo(wireProvider(overrides) as unknown as ProviderWire);

  it('counts signed-in providers', () => {
    assert.deepEqual(
      statusText([info({ signed_in: true, needs_login: false }), info({ id: 'other' })]),
      { text: 'Tokens: 1 signed in', warning: false }
    );
    assert.deepEqual(statusText([]), { text: 'Tokens: 0 signed in', warning: false });
  });

  it('warns when a sign-in lapsed or a provider reports a problem', () => {
    assert.deepEqual(statusText([info({ signed_in: true, needs_login: true })]), {
      text: 'Tokens: 0 signed in, 1 needs login',
      warning: true
    });
    assert.deepEqual(
      statusText([
        info({
          signed_in: true,
          needs_login: false,
          error: { code: 'upstream_unavailable', description: 'fetch failed' }
        })
      ]),
      { text: 'Tokens: 1 signed in, 1 with problems', warning: true }
    );
  });
});

describe('readPreferences', () => {
  it('reads the schema fields and falls back to defaults for bad values', () => {
    assert.deepEqual(readPreferences({}), DEFAULT_PREFERENCES);
    assert.deepEqual(
      readPreferences({
        defaultProvider: 'demo',
        snippetLanguage: 'r-httr2',
        snippetUrl: 'https://archive.example.org/',
        statusBar: false
      }),
      {
        defaultProvider: 'demo',
        snippetLanguage: 'r-httr2',
        snippetUrl: 'https://archive.example.org/',
        statusBar: false
      }
    );
    assert.deepEqual(
      readPreferences({
        snippetLanguage: 'cobol',
        snippetUrl: 'javascript:alert(1)',
        statusBar: 1
      }),
      DEFAULT_PREFERENCES
    );
  });
});

describe('expiryText', () => {
  it('the expiry line vanished at 0: it says the token expired and renews on next use', () => {
    const expiresAt = 1_700_000_060;
    assert.equal(expiryText(expiresAt, 1_700_000_003_000, true), 'Expires in 0:57');
    assert.equal(expiryText(expiresAt, 1_700_000_059_500, true), 'Expires in 0:00');
    assert.equal(expiryText(expiresAt, 1_700_000_060_000, true), EXPIRED_TEXT);
    assert.equal(EXPIRED_TEXT, 'Access token expired — renews on next use');
    // The broker's list no longer carries the expired token: the line stays.
    assert.equal(expiryText(null, 1_700_000_061_000, true), EXPIRED_TEXT);
    assert.equal(expiryText(null, 1_700_000_061_000, false), NO_TOKEN_TEXT);
  });
});

describe('isExpired', () => {
  it('panel re-fetched a second early and missed a lapsed sign-in: not expired while 0:00 shows', () => {
    const expiresAt = 1_700_000_060;
    assert.equal(secondsLeft(expiresAt, 1_700_000_059_500), 0);
    assert.equal(isExpired(expiresAt, 1_700_000_059_500), false);
    assert.equal(isExpired(expiresAt, 1_700_000_060_000), true);
  });
});
