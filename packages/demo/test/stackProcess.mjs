/**
 * Starts one of the demo's processes for a test and waits for its ready line.
 */

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const DEMO_DIR = fileURLToPath(new URL('..', import.meta.url));

/**
 * Spawns `node <script> ...args` in packages/demo and resolves once it printed `{"ready":true,...}`.
 *
 * @param {string} script - `idp.mjs` or `api.mjs`.
 * @param {string[]} args - its flags.
 * @returns {Promise<{ready: Record<string, unknown>, stderr: () => string, stop: () => Promise<void>}>}
 *   the ready line, everything it logged so far, and a stopper.
 */
export async function startDemoProcess(script, args) {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: DEMO_DIR,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  let logged = '';
  child.stderr.on('data', chunk => {
    logged += chunk;
  });
  const ready = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', line => {
      try {
        const parsed = JSON.parse(line);
        if (parsed.ready) {
          resolve(parsed);
        }
      } catch {
        // not the ready line
      }
    });
    child.once('exit', code => reject(new Error(`${script} exited with ${code}: ${logged}`)));
  });
  return {
    ready,
    stderr: () => logged,
    stop: () =>
      new Promise(resolve => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })
  };
}
