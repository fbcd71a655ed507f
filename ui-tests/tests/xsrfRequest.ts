/**
 * Galata's `test`, with a `request` fixture that passes Jupyter's XSRF check.
 *
 * Galata's own server set-up disables XSRF checks; ours keeps them on (the token broker's POST/DELETE routes rely
 * on them), so Galata's REST helpers (temporary folders, kernel clean-up) need what a browser sends: an `_xsrf`
 * cookie and the same value in `X-XSRFToken` (Tornado's double-submit check compares the two).
 */
import { randomBytes } from 'node:crypto';
import { test as galataTest } from '@jupyterlab/galata';

export { expect } from '@jupyterlab/galata';

/** Galata's fixtures, with an XSRF-capable `request`. */
export const test = galataTest.extend({
  request: async ({ playwright, baseURL }, use) => {
    const xsrf = randomBytes(16).toString('hex');
    const { hostname } = new URL(baseURL ?? 'http://127.0.0.1');
    const context = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { 'X-XSRFToken': xsrf },
      storageState: {
        cookies: [
          {
            name: '_xsrf',
            value: xsrf,
            domain: hostname,
            path: '/',
            expires: -1,
            httpOnly: false,
            secure: false,
            sameSite: 'Lax'
          }
        ],
        origins: []
      }
    });
    await use(context);
    await context.dispose();
  }
});
