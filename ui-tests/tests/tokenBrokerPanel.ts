/**
 * The Token Broker panel as a person uses it: open it from the left sidebar, sign in through the IdP's popup,
 * sign out. Role and label locators only.
 */
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { expect } from './jupyterAuth';

/** The demo provider's title, as the panel names its card and buttons. */
export const PROVIDER_TITLE = 'Demo IdP';

/** The provider of the same IdP that gets no refresh tokens (`jupyter_server_test_config.py`). */
export const SESSION_PROVIDER_TITLE = 'Session-only IdP';

/**
 * Opens the Token Broker panel in the left sidebar (if it is not open yet).
 *
 * @param page - the JupyterLab page.
 * @returns the panel's region.
 */
export async function openTokenBrokerPanel(page: Page): Promise<Locator> {
  const panel = page.getByRole('region', { name: 'Token Broker', exact: true });
  if (!(await panel.isVisible())) {
    await page.getByRole('tab', { name: 'Token Broker' }).click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * One provider's card in the panel (a region named after the provider).
 *
 * @param panel - the panel's region.
 * @param title - the provider's title.
 * @returns the card.
 */
export function providerCard(panel: Locator, title: string = PROVIDER_TITLE): Locator {
  return panel.getByRole('region', { name: title, exact: true });
}

/**
 * Signs in from the panel: the button opens the IdP's sign-in form in a popup, which closes itself once the
 * broker has the grant.
 *
 * @param page - the JupyterLab page.
 * @param username - `alice` or `bob`.
 * @param title - the provider's title.
 * @returns the provider's card.
 */
export async function signInFromPanel(
  page: Page,
  username: string,
  title: string = PROVIDER_TITLE
): Promise<Locator> {
  const card = providerCard(await openTokenBrokerPanel(page), title);
  const popupOpened = page.waitForEvent('popup');
  await card.getByRole('button', { name: `Sign in to ${title}`, exact: true }).click();
  const popup = await popupOpened;
  const popupClosed = popup.waitForEvent('close');
  // The IdP remembers a sign-in for the browser context: it may close the popup without asking.
  const form = popup.getByLabel('Username');
  await Promise.race([form.waitFor(), popupClosed]);
  if (!popup.isClosed()) {
    await form.fill(username);
    await popup.getByLabel('Password').fill('demo');
    await popup.getByRole('button', { name: 'Sign in' }).click();
  }
  await popupClosed;
  await expect(card.getByText(`Signed in as ${username}`)).toBeVisible();
  return card;
}

/**
 * Signs out from the panel.
 *
 * @param page - the JupyterLab page.
 * @param title - the provider's title.
 * @returns the provider's card.
 */
export async function signOutFromPanel(
  page: Page,
  title: string = PROVIDER_TITLE
): Promise<Locator> {
  const card = providerCard(await openTokenBrokerPanel(page), title);
  await card.getByRole('button', { name: `Sign out of ${title}`, exact: true }).click();
  await expect(card.getByText('Not signed in')).toBeVisible();
  await expect(
    card.getByRole('button', { name: `Sign in to ${title}`, exact: true })
  ).toBeVisible();
  return card;
}

/**
 * Forgets every grant through the broker's API (as the panel's Sign out would), so a spec starts signed out
 * whatever an earlier one left behind.
 *
 * @param request - Galata's token-authenticated request fixture.
 * @param providers - the provider ids.
 */
export async function signOutEverywhere(
  request: APIRequestContext,
  providers: ReadonlyArray<string> = ['demo', 'session']
): Promise<void> {
  for (const id of providers) {
    const response = await request.delete(`/token-broker/api/v1/providers/${id}/grant`);
    expect(response.status(), `sign-out of ${id}`).toBe(204);
  }
}
