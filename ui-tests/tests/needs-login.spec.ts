/**
 * A provider whose sign-in cannot be renewed: "Session-only IdP" is the demo IdP through a client that gets no
 * refresh tokens (as with JupyterHub as the OAuth provider). Once its one-minute access token expires, the
 * broker reports `needs_login`; the panel warns that the sign-in expired and offers to sign in again, the
 * status bar warns, and token requests say a login is required.
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

/**
 * The demo IdP's access-token lifetime (60 s), plus the time JupyterLab takes to notice by itself: when the
 * panel's countdown runs out, or at the latest at the status bar's next poll of the providers (every 60 s).
 */
const EXPIRY_WAIT_MS = 150_000;

test('a sign-in without a refresh token expires with its access token and the panel says to sign in again', async ({
  page,
  request
}, testInfo) => {
  test.setTimeout(300_000);
  await signOutEverywhere(request);
  const card = await signInFromPanel(page, 'bob', SESSION_PROVIDER_TITLE);
  await expect(card.getByText(/^Expires in \d+:\d\d$/)).toBeVisible();

  await test.step('once the access token expired, the panel and the status bar say to sign in again', async () => {
    // The behaviour under test is the passing of the token's lifetime: JupyterLab must notice by itself.
    await expect(card.getByText('Sign-in expired: sign in again')).toBeVisible({
      timeout: EXPIRY_WAIT_MS
    });
    await expect(
      card.getByRole('button', { name: `Sign in to ${SESSION_PROVIDER_TITLE}`, exact: true })
    ).toBeVisible();
    await expect(
      page.getByRole('button', { name: 'Tokens: 0 signed in, 1 needs login' })
    ).toBeVisible();
    const providers = await (await request.get('/token-broker/api/v1/providers')).json();
    const session = providers.providers.find((p: { id: string }) => p.id === 'session');
    expect(session).toMatchObject({ signed_in: true, needs_login: true });
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
    const again = providerCard(await openTokenBrokerPanel(page), SESSION_PROVIDER_TITLE);
    await expect(again.getByText('Sign-in expired: sign in again')).toBeHidden();
    await expect(page.getByRole('button', { name: 'Tokens: 1 signed in' })).toBeVisible();
  });

  await signOutEverywhere(request);
});
