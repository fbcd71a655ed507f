/**
 * Galata/Playwright configuration of the Binder story (`binder/README.md`): `binder/start` runs the demo IdP and
 * API and JupyterLab with `binder/jupyter_server_config.py` (copied to `~/.jupyter/` of a fresh home, as Binder's
 * `postBuild` does) plus `ui-tests/binder/galata_config.py` (Galata's in-page helpers; authentication and XSRF checks
 * stay on). The browser may reach the Jupyter server only: `binder/*.spec.ts` fail on any request elsewhere.
 *
 *   npx playwright test -c playwright.binder.config.ts      (in ui-tests/; `npm run test:binder`)
 *
 * Free ports from the OS, so it never collides with `make demo` or the main specs.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defineConfig, type PlaywrightTestConfig } from '@playwright/test';
import * as galataConfig from '@jupyterlab/galata/lib/playwright-config';

// Galata ships this CommonJS module with an empty type declaration.
const baseConfig = galataConfig as unknown as PlaywrightTestConfig;
const repo = path.join(__dirname, '..');

// Picked once by the runner and inherited by the workers (ports and paths, not secrets).
if (!process.env.BINDER_TESTS_HOME) {
  const [idp, api, jupyter] = execFileSync(
    process.execPath,
    [path.join(repo, 'packages', 'demo', 'lib', 'ports.mjs'), '3'],
    { encoding: 'utf8' }
  )
    .trim()
    .split('\n');
  const home = mkdtempSync(path.join(tmpdir(), 'token-broker-binder-home-'));
  mkdirSync(path.join(home, '.jupyter'));
  mkdirSync(path.join(home, 'work'));
  // What binder/postBuild does.
  copyFileSync(
    path.join(repo, 'binder', 'jupyter_server_config.py'),
    path.join(home, '.jupyter', 'jupyter_server_config.py')
  );
  Object.assign(process.env, {
    BINDER_TESTS_HOME: home,
    BINDER_TESTS_IDP_PORT: idp,
    BINDER_TESTS_API_PORT: api,
    BINDER_TESTS_JUPYTER_PORT: jupyter,
    // Where the server writes its runtime file and where `tests/jupyterAuth.ts` looks for it.
    JUPYTER_CONFIG_DIR: path.join(home, '.jupyter'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime')
  });
}
const home = process.env.BINDER_TESTS_HOME as string;
const jupyterPort = Number(process.env.BINDER_TESTS_JUPYTER_PORT);
const venv = process.env.DEMO_VENV ?? path.join(repo, '.venv');

export default defineConfig({
  ...baseConfig,
  testDir: './binder',
  outputDir: './test-results/binder-artifacts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${jupyterPort}`,
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--disable-background-networking', '--disable-component-update', '--disable-sync']
    }
  },
  webServer: {
    command:
      `env HOME=${home} DEMO_IDP_PORT=${process.env.BINDER_TESTS_IDP_PORT}` +
      ` DEMO_API_PORT=${process.env.BINDER_TESTS_API_PORT} PATH=${venv}/bin:${process.env.PATH}` +
      ` ${repo}/binder/start jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=${jupyterPort}` +
      ' --ServerApp.allow_root=True' +
      ` --ServerApp.root_dir=${home}/work --config ${repo}/ui-tests/binder/galata_config.py` +
      ` > ${home}/server.log 2>&1`,
    url: `http://127.0.0.1:${jupyterPort}/lab`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 15_000 }
  }
});
