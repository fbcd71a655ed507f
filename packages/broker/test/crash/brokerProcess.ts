/**
 * Real broker processes (the bundled CLI, `dist/token-broker.mjs`) sharing a file or keyring store,
 * for tests that need several processes on one store or a process that dies mid-refresh.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { type Answer, socketRequest } from '../fixtures/broker.js';
import { CLIENT_ID, REDIRECT_URI, SCOPES, type IdP } from '../fixtures/idp.js';

const BUNDLE = fileURLToPath(new URL('../../dist/token-broker.mjs', import.meta.url));

/** A running broker process. */
export interface BrokerProcess {
  readonly child: ChildProcess;
  readonly socket: string;
  /** Its `X-Broker-Key`. */
  readonly key: string;
  /** Everything it wrote to stderr so far (its JSON log lines). */
  stderr(): string;
  request(method: string, path: string, body?: unknown): Promise<Answer>;
  /** Signs `alice` in through this broker. */
  login(idp: IdP): Promise<Answer>;
  /** Resolves with the exit code or signal when it ends. */
  readonly exited: Promise<number | string | null>;
}

/** A store shared by every broker of one test. */
export interface SharedStore {
  /** The directory of its files (the store file, or the keyring's lock files). */
  readonly dir: string;
  /** The `store` section of every broker's config. */
  readonly config: Record<string, unknown>;
  /** What the brokers' environment needs to reach it (the Secret Service's session bus). */
  readonly env: Record<string, string>;
}

/** A shared file store: its file and key. */
export interface SharedFileStore extends SharedStore {
  readonly path: string;
  readonly keyFile: string;
}

/**
 * A fresh directory for a shared file store.
 *
 * @param base - a 0700 temp directory
 */
export async function sharedStore(base: string): Promise<SharedFileStore> {
  const dir = join(base, `store-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  const path = join(dir, 'grants.store');
  const keyFile = join(dir, 'store.key');
  return { dir, path, keyFile, config: { type: 'file', path, key_file: keyFile }, env: {} };
}

/**
 * A fresh keychain service on the test Secret Service (see `test/stores/secretService.mjs`), with
 * its lock directory.
 *
 * @param base - a 0700 temp directory
 */
export function sharedKeyringStore(base: string): SharedStore {
  const dir = join(base, `locks-${randomBytes(4).toString('hex')}`);
  return {
    dir,
    config: {
      type: 'keyring',
      service: `jtb-test-${randomBytes(6).toString('hex')}`,
      lock_dir: dir,
      module_path: dirname(createRequire(import.meta.url).resolve('@napi-rs/keyring/package.json'))
    },
    env: { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS ?? '' }
  };
}

/**
 * Starts `token-broker serve` on a unix socket with the IdP as provider `demo` and the shared store.
 *
 * @param base - a 0700 temp directory for its socket, config and key
 * @param idp - the identity provider
 * @param store - the shared store
 * @param upstreamTimeoutMs - the broker's `upstream_timeout_ms` (default 5000)
 * @param provider - more fields of provider `demo` (e.g. `egress`)
 * @returns the process once it printed its ready line
 */
export async function startBrokerProcess(
  base: string,
  idp: IdP,
  store: SharedStore,
  upstreamTimeoutMs = 5000,
  provider: Record<string, unknown> = {}
): Promise<BrokerProcess> {
  const dir = join(base, `broker-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  await chmod(dir, 0o700);
  const key = randomBytes(32).toString('base64url');
  await writeFile(join(dir, 'key'), key, { mode: 0o600 });
  const config = {
    providers: [
      {
        id: 'demo',
        title: 'Demo',
        kind: 'oidc',
        issuer: idp.issuer,
        client_id: CLIENT_ID,
        scopes: SCOPES,
        ...provider
      }
    ],
    store: store.config,
    upstream_timeout_ms: upstreamTimeoutMs
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
  const socket = join(dir, 'broker.sock');
  const child = spawn(
    process.execPath,
    [
      BUNDLE,
      'serve',
      '--config',
      join(dir, 'config.json'),
      '--key-file',
      join(dir, 'key'),
      '--socket',
      socket
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...store.env } }
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | string | null>(resolve =>
    child.once('exit', (code, signal) => resolve(code ?? signal))
  );
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    void exited.then(code => reject(new Error(`broker exited ${code}: ${stderr}`)));
  });
  const request = (method: string, path: string, body?: unknown): Promise<Answer> => {
    const headers: Record<string, string> = {
      'x-broker-key': key,
      'x-broker-user': 'alice',
      'x-broker-caller': 'owner',
      'x-broker-redirect-uri': REDIRECT_URI,
      accept: 'application/json'
    };
    const text = body === undefined ? undefined : JSON.stringify(body);
    if (text !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    return socketRequest(socket, method, path, headers, text);
  };
  return {
    child,
    socket,
    key,
    exited,
    stderr: () => stderr,
    request,
    login: async provider => {
      const started = await request('POST', '/api/v1/providers/demo/login', {});
      if (started.status !== 200) throw new Error(`login failed: ${started.text}`);
      const redirect = await provider.authorize(started.json.authorization_url);
      return request('GET', `/api/v1/callback${redirect.search}`);
    }
  };
}

/**
 * Stops a broker process (SIGTERM) and waits for it.
 *
 * @param broker - the process
 */
export async function stopBrokerProcess(broker: BrokerProcess): Promise<void> {
  if (broker.child.exitCode === null && broker.child.signalCode === null)
    broker.child.kill('SIGTERM');
  await broker.exited;
}
