// A private, real Secret Service for the keyring tests: its own D-Bus session bus (dbus-daemon
// --session) and gnome-keyring-daemon with an unlocked login keyring, in a fresh temp HOME so the
// tests never touch a real keychain. Needs the Debian packages dbus and gnome-keyring
// (scripts/system-deps.sh at the repository root).
//
// jest's globalSetup calls provideSecretService(): the native binding reads the bus address from
// the real process environment, which test files cannot change (jest gives them a copy), so it is
// set before the test workers start and they inherit it. Plain JS: globalSetup is not transformed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const BINARIES = ['dbus-daemon', 'gnome-keyring-daemon', 'dbus-send'];

/** The variable that tells test files whether the Secret Service runs: `ready` or `missing: …`. */
export const STATUS_VARIABLE = 'TB_TEST_SECRET_SERVICE';

/**
 * Why the Secret Service cannot run here, or undefined when it can.
 *
 * @returns {string | undefined}
 */
export function secretServiceMissing() {
  const missing = BINARIES.filter(b => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  return missing.length === 0
    ? undefined
    : `${missing.join(', ')} not installed (Debian packages dbus, gnome-keyring: run scripts/system-deps.sh)`;
}

function hasSecrets(env) {
  const answer = spawnSync(
    'dbus-send',
    [
      '--session',
      '--print-reply',
      '--dest=org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus.NameHasOwner',
      'string:org.freedesktop.secrets'
    ],
    { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }
  );
  return answer.stdout.includes('boolean true');
}

/**
 * Starts a session bus and gnome-keyring on it and waits until `org.freedesktop.secrets` answers.
 *
 * @returns {Promise<{env: Record<string, string>, stop: () => void}>}
 */
export async function startSecretService() {
  const home = mkdtempSync(join(tmpdir(), 'tb-secrets-'));
  const runtime = join(home, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'ignore']
  });
  const address = await new Promise((resolve, reject) => {
    createInterface({ input: bus.stdout }).once('line', resolve);
    bus.once('exit', code => reject(new Error(`dbus-daemon exited ${code}`)));
  });
  const env = {
    DBUS_SESSION_BUS_ADDRESS: address,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_RUNTIME_DIR: runtime
  };
  const keyring = spawn(
    'gnome-keyring-daemon',
    ['--foreground', '--unlock', '--components=secrets'],
    {
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '', ...env }
    }
  );
  // --unlock reads the login keyring's password from stdin.
  keyring.stdin.end('test-keyring-password');
  const stop = () => {
    for (const child of [keyring, bus]) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    rmSync(home, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10000;
  while (!hasSecrets(env)) {
    if (Date.now() > deadline || keyring.exitCode !== null) {
      stop();
      throw new Error('gnome-keyring-daemon did not come up on the private session bus');
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  // Nothing here may keep jest's main process alive; the exit handler stops both.
  for (const child of [bus, keyring]) {
    child.unref();
    child.stdout?.destroy();
  }
  return { env, stop };
}

/**
 * For jest's globalSetup: starts the Secret Service (stopped when jest exits) and exports its bus
 * address; or records why it cannot run.
 */
export async function provideSecretService() {
  const missing = secretServiceMissing();
  if (missing !== undefined) {
    process.env[STATUS_VARIABLE] = `missing: ${missing}`;
    return;
  }
  const service = await startSecretService();
  process.on('exit', service.stop);
  process.env.DBUS_SESSION_BUS_ADDRESS = service.env.DBUS_SESSION_BUS_ADDRESS;
  process.env[STATUS_VARIABLE] = 'ready';
}
