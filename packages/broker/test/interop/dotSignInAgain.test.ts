/**
 * Signing in again at Django OAuth Toolkit (issue 11, defect 3): every authorization there starts its
 * own refresh token family, so the replaced grant can be revoked without harming the new one, also
 * when the user's DOT session still lives and the new ID token shows the same sign-in (`auth_time`;
 * DOT sends no `sid`). That takes `revoke_replaced_grant: true`: the default `auto` keeps the old
 * refresh token live in that case, as it cannot tell DOT from an IdP that reuses one grant per session.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { startDot, type DotIdP } from '../fixtures/dot.js';

describe('django-oauth-toolkit: signing in again with revoke_replaced_grant true', () => {
  let dot: DotIdP;
  let broker: TestBroker;

  const storedRefreshToken = async (): Promise<string> => {
    const token = (await broker.context.store.get('demo'))?.refreshToken;
    expect(token).toBeTruthy();
    return token!;
  };

  beforeAll(async () => {
    dot = await startDot();
    broker = await startBroker(dot, {
      provider: { ...dot.brokerProvider, revoke_replaced_grant: true }
    });
  }, 60000);
  afterAll(async () => {
    await broker?.close();
    await dot?.close();
  });

  test.each([
    ['a new DOT session', false],
    ['the same DOT session', true]
  ])(
    'in %s: DOT refuses the replaced refresh token, the new one works',
    async (_name, keepSession) => {
      dot.keepSession = keepSession;
      expect((await broker.login()).status).toBe(200);
      const replaced = await storedRefreshToken();
      expect((await broker.login()).status).toBe(200);
      const current = await storedRefreshToken();
      expect(current).not.toBe(replaced);

      const old = await dot.tokenRequest({ grant_type: 'refresh_token', refresh_token: replaced });
      expect([old.status, old.json.error]).toEqual([400, 'invalid_grant']);
      const answer = await broker.request('POST', '/api/v1/providers/demo/token', { body: {} });
      expect(answer.status).toBe(200);
      broker.advance(200); // expired: the broker refreshes with the new grant
      expect(
        (await broker.request('POST', '/api/v1/providers/demo/token', { body: {} })).status
      ).toBe(200);
      expect((await dot.state()).grants.filter(g => g.user === 'alice')).toHaveLength(1);
    }
  );
});
