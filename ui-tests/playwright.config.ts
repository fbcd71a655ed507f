/**
 * Galata/Playwright configuration: Debian's Chromium against the real demo stack (demo IdP on 9410, demo API on
 * 9411, JupyterLab with the token broker on 8890), all started by `packages/demo/start-demo.mjs`.
 *
 * Every process's output (JupyterLab, the server extension, the broker, the IdP, the API) goes to
 * `test-results/stack.log`, which the specs search for leaked tokens. Playwright's own artifacts go to
 * `test-results/artifacts` so that cleaning them never deletes the stack log of the running server.
 */
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import * as galataConfig from '@jupyterlab/galata/lib/playwright-config';

// Galata ships this CommonJS module with an empty type declaration.
const baseConfig = galataConfig as unknown as PlaywrightTestConfig;

/** The ports of the test stack: the IdP, the demo API and JupyterLab (ports, not secrets). */
export const PORTS = {
  idp: Number(process.env.UI_TESTS_IDP_PORT ?? 9410),
  api: Number(process.env.UI_TESTS_API_PORT ?? 9411),
  jupyter: Number(process.env.UI_TESTS_JUPYTER_PORT ?? 8890)
} as const;

export default defineConfig({
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results/artifacts',
  // One JupyterLab and one broker are shared: a sign-out in one test would break another running at once.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: './playwright-report' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${PORTS.jupyter}`,
    // Playwright's ffmpeg is not installed (we never run `playwright install`), so no video.
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command:
      `node ../packages/demo/start-demo.mjs --idp-port ${PORTS.idp} --api-port ${PORTS.api}` +
      ` --jupyter-port ${PORTS.jupyter} --config jupyter_server_test_config.py` +
      ' --log-file test-results/stack.log',
    url: `http://127.0.0.1:${PORTS.jupyter}/lab`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 }
  }
});
