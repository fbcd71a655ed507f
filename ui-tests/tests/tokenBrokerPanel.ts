/**
 * The Token Broker panel as a person uses it: open it from the left sidebar, sign in through the IdP's popup,
 * sign out. Role and label locators only.
 */
import type { Locator, Page } from '@playwright/test';
import { expect } from './jupyterAuth';

/** The demo provider's title, as the panel names its buttons. */
export const PROVIDER_TITLE = 'Demo IdP';

/**
 * Opens the Token Broker panel in the left sidebar (if it is not open yet).
 *
 * @param page - the JupyterLab page.
 * @returns the panel's region.
 */
export async function openTokenBrokerPanel(page: Page): Promise<Locator> {
  const panel = page.getByRole('region', { name: 'Token Broker' });
  if (!(await panel.isVisible())) {
    await page.getByRole('tab', { name: 'Token Broker' }).click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * Signs in to the demo IdP from the panel: the button opens the IdP's sign-in form in a popup, which closes
 * itself once the broker has the grant.
 *
 * @param page - the JupyterLab page.
 * @param username - `alice` or `bob`.
 * @returns the panel's region.
 */
export async function signInFromPanel(page: Page, username: string): Promise<Locator> {
  const panel = await openTokenBrokerPanel(page);
  const popupOpened = page.waitForEvent('popup');
  await panel.getByRole('button', { name: `Sign in to ${PROVIDER_TITLE}` }).click();
  const popup = await popupOpened;
  const popupClosed = popup.waitForEvent('close');
  await popup.getByLabel('Username').fill(username);
  await popup.getByLabel('Password').fill('demo');
  await popup.getByRole('button', { name: 'Sign in' }).click();
  await popupClosed;
  await expect(panel.getByText(`Signed in as ${username}`)).toBeVisible();
  return panel;
}

/**
 * Signs out of the demo IdP from the panel.
 *
 * @param page - the JupyterLab page.
 * @returns the panel's region.
 */
export async function signOutFromPanel(page: Page): Promise<Locator> {
  const panel = await openTokenBrokerPanel(page);
  await panel.getByRole('button', { name: `Sign out of ${PROVIDER_TITLE}` }).click();
  await expect(panel.getByText('Not signed in')).toBeVisible();
  await expect(panel.getByRole('button', { name: `Sign in to ${PROVIDER_TITLE}` })).toBeVisible();
  return panel;
}
