/**
 * A provider whose sign-in cannot be renewed: "Session-only IdP" is the demo IdP through a client that gets no
 * refresh tokens (as with JupyterHub as the OAuth provider). Once its one-minute access token expires, the
 * broker reports `needs_login` and the panel warns that the sign-in expired and offers to sign in again;
 * notebook code gets `LoginRequired` naming the provider.
 */
import { saveScreenshot } from './evidence';
import {
  openTokenBrokerPanel,
  providerCard,
  SESSION_PROVIDER_TITLE,
  signInFromPanel,
  signOutEverywhere
} from './tokenBrokerPanel';
import { expect, test } from './jupyterAuth';

/** The demo IdP's access-token lifetime, plus the panel's time to notice. */
const EXPIRY_WAIT_MS = 100_000;

test('a sign-in without a refresh token expires with its access token and the panel says to sign in again', async ({
  page,
  request
}, testInfo) => {
  test.setTimeout(240_000);
  await signOutEverywhere(request);
  const card = await signInFromPanel(page, 'bob', SESSION_PROVIDER_TITLE);
  await expect(card.getByText(/^Expires in \d+:\d\d$/)).toBeVisible();

  await test.step('the broker has no refresh token: once the access token expires it needs a login', async () => {
    // The behaviour under test is the passing of the token's lifetime: the panel must notice by itself.
    await expect(card.getByText('Sign-in expired: sign in again')).toBeVisible({
      timeout: EXPIRY_WAIT_MS
    });
    await expect(
      card.getByRole('button', { name: `Sign in to ${SESSION_PROVIDER_TITLE}`, exact: true })
    ).toBeVisible();
    const providers = await (await request.get('/token-broker/api/v1/providers')).json();
    const session = providers.providers.find((p: { id: string }) => p.id === 'session');
    expect(session).toMatchObject({ signed_in: true, needs_login: true });
    // The status bar warns too (it re-reads the providers on a sign-in change, or at the latest every minute).
    await expect(page.getByRole('button', { name: /needs login/ })).toBeVisible({
      timeout: 70_000
    });
    await saveScreenshot(page, testInfo, 'provider-needs-login');
  });

  await test.step('a token request says a login is required', async () => {
    const response = await request.post('/token-broker/api/v1/providers/session/token', {
      data: {}
    });
    expect(response.status()).toBe(401);
    expect((await response.json()).error).toBe('login_required');
  });

  await test.step('signing in again renews it', async () => {
    // The IdP still knows bob in this browser: the popup closes without asking.
    await signInFromPanel(page, 'bob', SESSION_PROVIDER_TITLE);
    await expect(
      providerCard(await openTokenBrokerPanel(page), SESSION_PROVIDER_TITLE).getByText(
        'Sign-in expired: sign in again'
      )
    ).toBeHidden();
  });

  await signOutEverywhere(request);
});
