/**
 * Galata's `test`, signed in to a Jupyter server that keeps its authentication and XSRF checks on.
 *
 * Galata's server set-up usually switches authentication and XSRF checks off; ours does not (the token broker's
 * routes rely on both, and the kernel helper authenticates with the server's token as in any real deployment).
 * JupyterLab generates its own token and writes it, as always, to its 0600 runtime file
 * `jpserver-<pid>.json`; these fixtures read it there, like the kernel helper does:
 * - the browser context logs in once with it (Jupyter answers with its login cookie), so every browser request is
 *   cookie-authenticated and must pass the XSRF check, as for a person;
 * - Galata's REST `request` fixture sends it as `Authorization: token …`, as an API client would.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { test as galataTest } from '@jupyterlab/galata';

export { expect } from '@jupyterlab/galata';

/** What the server's runtime file says about it. */
interface IServerInfo {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly token: string;
}

/** Jupyter's runtime directory, as the test stack's own `jupyter` reports it. */
function runtimeDir(): string {
  const venv = process.env.DEMO_VENV ?? path.join(__dirname, '..', '..', '.venv');
  return execFileSync(path.join(venv, 'bin', 'jupyter'), ['--runtime-dir'], {
    encoding: 'utf8'
  }).trim();
}

/** Whether a process still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the running Jupyter server on a port through its runtime file.
 *
 * @param port - the test stack's JupyterLab port.
 * @returns the newest live server's info.
 * @throws when no live server on that port has a runtime file.
 */
function findServer(port: number): IServerInfo {
  const dir = runtimeDir();
  const candidates = readdirSync(dir)
    .filter(name => /^jpserver-\d+\.json$/.test(name))
    .map(name => path.join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const file of candidates) {
    const info = JSON.parse(readFileSync(file, 'utf8')) as IServerInfo;
    if (info.port === port && alive(info.pid)) {
      return info;
    }
  }
  throw new Error(`no running Jupyter server on port ${port} has a runtime file in ${dir}`);
}

/** Galata's fixtures, authenticated against the test stack's JupyterLab. */
export const test = galataTest.extend<object, { jupyterServer: IServerInfo }>({
  jupyterServer: [
    // Playwright needs the (empty) fixtures argument destructured.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use, workerInfo) => {
      const port = Number(new URL(String(workerInfo.project.use.baseURL)).port);
      await use(findServer(port));
    },
    { scope: 'worker' }
  ],
  context: async ({ context, baseURL, jupyterServer }, use) => {
    // Token-authenticated once: Jupyter sets its login cookie, shared by the context's pages.
    const login = await context.request.get(`${baseURL}/api/status`, {
      headers: { Authorization: `token ${jupyterServer.token}` }
    });
    if (!login.ok()) {
      throw new Error(`logging in to JupyterLab failed: ${login.status()}`);
    }
    await use(context);
  },
  request: async ({ playwright, baseURL, jupyterServer }, use) => {
    const request = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `token ${jupyterServer.token}` }
    });
    await use(request);
    await request.dispose();
  }
});
