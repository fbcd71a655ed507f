/**
 * Galata/Playwright configuration: Debian's Chromium against the real demo stack (demo IdP, demo API, JupyterLab
 * with the token broker), all started by `packages/demo/start-demo.mjs` on free ports from the OS, so that the
 * tests never collide with a running `make demo` (9400, 9401, 8888) or anything else. JupyterLab's root is a
 * fresh temporary directory.
 *
 * Each run has a directory of its own, `test-results/run-<jupyter port>`, so that two runs at once (two
 * checkouts' worth of engineers, or a rerun while one is going) never delete or read each other's files. Every
 * process's output (JupyterLab, the server extension, the broker, the IdP, the API) goes to its `stack.log`,
 * which the specs search for leaked tokens. Playwright's own artifacts go to its `artifacts` so that cleaning
 * them never deletes the stack log of the running server.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import * as galataConfig from '@jupyterlab/galata/lib/playwright-config';

// Galata ships this CommonJS module with an empty type declaration.
const baseConfig = galataConfig as unknown as PlaywrightTestConfig;

// Playwright loads this file in its runner and again in every worker: the runner picks the ports and the root
// directory once and hands them on in the environment (ports and a path, not secrets), which the workers
// inherit and the specs read (`tests/stackPorts.ts`). Set them yourself to pin them.
if (
  !process.env.UI_TESTS_IDP_PORT ||
  !process.env.UI_TESTS_API_PORT ||
  !process.env.UI_TESTS_JUPYTER_PORT
) {
  // Playwright reads its config synchronously: ask the OS in a child process.
  const [idp, api, jupyter] = execFileSync(
    process.execPath,
    [path.join(__dirname, '..', 'packages', 'demo', 'lib', 'ports.mjs'), '3'],
    { encoding: 'utf8' }
  )
    .trim()
    .split('\n');
  process.env.UI_TESTS_IDP_PORT = idp;
  process.env.UI_TESTS_API_PORT = api;
  process.env.UI_TESTS_JUPYTER_PORT = jupyter;
}
process.env.UI_TESTS_ROOT_DIR ??= mkdtempSync(path.join(tmpdir(), 'token-broker-ui-tests-root-'));
const RUN_DIR = path.join(__dirname, 'test-results', `run-${process.env.UI_TESTS_JUPYTER_PORT}`);
process.env.UI_TESTS_STACK_LOG ??= path.join(RUN_DIR, 'stack.log');

/** The ports of the test stack: the IdP, the demo API and JupyterLab (ports, not secrets). */
export const PORTS = {
  idp: Number(process.env.UI_TESTS_IDP_PORT),
  api: Number(process.env.UI_TESTS_API_PORT),
  jupyter: Number(process.env.UI_TESTS_JUPYTER_PORT)
} as const;

export default defineConfig({
  ...baseConfig,
  testDir: './tests',
  outputDir: path.join(RUN_DIR, 'artifacts'),
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
      ` --jupyter-port ${PORTS.jupyter} --root-dir ${process.env.UI_TESTS_ROOT_DIR}` +
      ' --config jupyter_server_test_config.py' +
      ` --log-file ${process.env.UI_TESTS_STACK_LOG}`,
    url: `http://127.0.0.1:${PORTS.jupyter}/lab`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 }
  }
});
