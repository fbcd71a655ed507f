/**
 * The `token-broker` command line:
 *
 * ```
 * token-broker serve --config CONFIG.json --key-file KEY (--socket PATH | --host 127.0.0.1 --port N)
 * token-broker check-config [--probe] CONFIG.json
 * token-broker options
 * ```
 *
 * `serve` prints exactly one JSON line to stdout when ready; logs go to stderr. `check-config` prints
 * one JSON line too: `{"ok":true,...,"problems"?:[...]}` when the broker can start (the problems are
 * providers that will not work until fixed), `{"ok":false,"error":...,"error_description":...}` and
 * exit code 1 when it cannot. `options` prints every config option (description, type, range,
 * default) as one JSON line.
 */
import { parseArgs } from 'node:util';

import { createApp } from './app.js';
import {
  type BrokerConfig,
  ConfigError,
  defaults,
  loadConfig,
  loadKey,
  OPTIONS
} from './config.js';
import { createContext } from './context.js';
import { BrokerError } from './errors.js';
import { createLogger, type Logger, type LogSink, redactText } from './log.js';
import { unsupportedNode } from './nodeVersion.js';
import { ProviderRegistry } from './providers/registry.js';
import { listen, type ListenTarget } from './server.js';
import { SocketError } from './socket.js';
import { openStore } from './stores/index.js';
import type { StoreConfig } from './stores/storeConfig.js';
import { VERSION } from './version.js';

const USAGE = `usage:
  token-broker serve --config FILE --key-file FILE (--socket PATH | --host 127.0.0.1 --port N)
  token-broker check-config [--probe] FILE
  token-broker options
  token-broker --version
  token-broker --help`;

/** A wrong command line; exits 2. */
class UsageError extends Error {}

/**
 * A log sink that writes the lines logged in one turn of the event loop to stderr in one write.
 * Writes to a pipe or file are synchronous in Node, so one write per line would cost a system call
 * on every request; pending lines are also written when the process exits.
 *
 * @returns the sink
 */
function batchedStderr(): LogSink {
  let pending: string[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const text = pending.join('\n') + '\n';
    pending = [];
    process.stderr.write(text);
  };
  process.on('exit', flush);
  return line => {
    if (pending.push(line) === 1) setImmediate(flush);
  };
}

/**
 * Sends an uncaught exception or unhandled rejection through the (redacting) log as one JSON line
 * and exits 1. Without it Node prints the raw trace to stderr, around the redaction: a message
 * that carried a token would reach the Jupyter log as it is.
 *
 * @param log - the broker's logger
 */
function logCrashes(log: Logger): void {
  const fatal =
    (event: string) =>
    (err: unknown): void => {
      log.error(event, {
        error: err instanceof Error ? err : { name: typeof err, message: String(err) }
      });
      // The batched sink writes pending lines on exit.
      process.exit(1);
    };
  process.on('uncaughtException', fatal('uncaught_exception'));
  process.on('unhandledRejection', fatal('unhandled_rejection'));
}

function target(values: { socket?: string; host?: string; port?: string }): ListenTarget {
  if (values.socket !== undefined) {
    if (values.host !== undefined || values.port !== undefined) {
      throw new UsageError('give either --socket or --host/--port');
    }
    return { socket: values.socket };
  }
  const host = values.host ?? '127.0.0.1';
  if (host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
    throw new UsageError('--host must be a loopback address');
  }
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('--port must be a port number (0 picks one)');
  }
  return { host, port };
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'key-file': { type: 'string' },
      socket: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'log-level': { type: 'string' }
    },
    strict: true
  });
  if (values.config === undefined) throw new UsageError('--config is required');
  if (values['key-file'] === undefined) throw new UsageError('--key-file is required');
  const where = target(values);
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    throw new UsageError('--log-level must be debug, info, warn or error');
  }
  const log = createLogger({ level: level as 'info', sink: batchedStderr() });
  logCrashes(log);
  const config = await loadConfig(values.config);
  const key = await loadKey(values['key-file']);
  const store = await openStore(config.store, { upstreamTimeoutMs: config.upstream_timeout_ms });
  const context = createContext(config, { log, store });
  const running = await listen(createApp(context, key), where);

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info('stopping', { signal });
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    // A refresh still out (its caller answered 503 at the deadline) may bring a rotated refresh
    // token: it is stored before the store closes, within the force timer's grace.
    void running
      .close()
      .then(() => context.tokens.settled())
      .then(() => context.audit.close())
      .then(() => context.store.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  log.info('listening', { ...running.address, providers: config.providers.map(p => p.id) });
  process.stdout.write(
    JSON.stringify({
      ready: true,
      version: VERSION,
      pid: process.pid,
      ...readyLocation(running.address)
    }) + '\n'
  );
}

function readyLocation(address: { socket: string } | { host: string; port: number }): object {
  return 'socket' in address ? { socket: address.socket } : { port: address.port };
}

/** Longest a `check-config --probe` waits for the identity providers. */
const PROBE_MS = 5000;

/** A provider that will not work until fixed, as check-config reports it. */
interface ProviderReport {
  provider: string;
  error: string;
  error_description: string;
}

async function checkConfig(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: { probe: { type: 'boolean' } }
  });
  if (positionals.length !== 1) throw new UsageError('check-config takes one config file');
  const config = await loadConfig(positionals[0]);
  // Checks the store as `serve` would (modes, key, a Secret Service that answers) without creating
  // anything.
  const store = await openStore(config.store, { create: false });
  await store.close();
  const problems = await providerProblems(config, values.probe === true);
  for (const problem of problems)
    console.error(`token-broker: warning: ${problem.error_description}`);
  process.stdout.write(
    JSON.stringify({
      ok: true,
      providers: config.providers.map(p => p.id),
      store: describeStore(config.store),
      ...(problems.length > 0 ? { problems } : {})
    }) + '\n'
  );
}

/**
 * What keeps each provider from working, without starting a broker: its secret file, and with
 * `probe` its identity provider's discovery (within {@link PROBE_MS}).
 */
async function providerProblems(config: BrokerConfig, probe: boolean): Promise<ProviderReport[]> {
  const providers = new ProviderRegistry(config.providers, {
    timeoutMs: Math.min(config.upstream_timeout_ms, PROBE_MS),
    now: Date.now,
    log: createLogger({ level: 'error', sink: () => undefined }),
    clockToleranceSeconds: config.clock_tolerance_seconds
  });
  const reports = await Promise.all(
    providers.all().map(async provider => {
      if (probe) await provider.warmUp(PROBE_MS);
      const problem = await provider.problem();
      return problem === undefined
        ? undefined
        : { provider: provider.id, error: problem.code, error_description: problem.description };
    })
  );
  return reports.filter(r => r !== undefined);
}

/**
 * Every top-level config option as one JSON line: `{"options":[{name, description, type, minimum?,
 * maximum?, default?}]}` (the Jupyter server extension's tests check `c.TokenBroker` against it).
 */
function printOptions(): void {
  const options = Object.entries(OPTIONS).map(([name, doc]) => ({
    name,
    ...doc,
    ...(name in defaults ? { default: defaults[name as keyof typeof defaults] } : {})
  }));
  process.stdout.write(JSON.stringify({ options }) + '\n');
}

/** The store section as check-config reports it (paths, never the key). */
function describeStore(store: StoreConfig): object {
  switch (store.type) {
    case 'memory':
      return { type: 'memory' };
    case 'file':
      return { type: 'file', path: store.path, key_file: store.key_file };
    case 'keyring':
      return { type: 'keyring', service: store.service };
  }
}

/**
 * Runs the command line.
 *
 * @param argv - arguments after the script name
 * @returns the exit code, or undefined while `serve` keeps running
 */
export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  const tooOld = unsupportedNode(process.versions.node);
  if (tooOld !== undefined && (command === 'serve' || command === 'check-config')) {
    console.error(`token-broker: ${tooOld}`);
    if (command === 'check-config') refused('unsupported_node', new Error(tooOld));
    return 1;
  }
  try {
    switch (command) {
      case 'serve':
        await serve(rest);
        return undefined;
      case 'check-config':
        await checkConfig(rest);
        return 0;
      case 'options':
        printOptions();
        return 0;
      case '--version':
        process.stdout.write(VERSION + '\n');
        return 0;
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE + '\n');
        return 0;
      default:
        throw new UsageError(
          command === undefined ? 'missing command' : `unknown command '${command}'`
        );
    }
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`token-broker: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    if (
      err instanceof ConfigError ||
      err instanceof SocketError ||
      (err instanceof BrokerError &&
        (err.code === 'store_unavailable' || err.code === 'store_rolled_back'))
    ) {
      const code = err instanceof BrokerError ? `${err.code}: ` : '';
      console.error(`token-broker: ${code}${err.message}`);
      if (command === 'check-config')
        refused(err instanceof ConfigError ? 'config_error' : code, err);
      return 1;
    }
    // Through the redaction too: a stack's first line is the error's message.
    console.error(`token-broker: ${redactText((err as Error)?.stack ?? String(err))}`);
    return 1;
  }
}

/** check-config's answer when the broker cannot start with this config: one JSON line. */
function refused(code: string, err: Error): void {
  const error = code.replace(/: $/, '');
  process.stdout.write(
    JSON.stringify({
      ok: false,
      error,
      error_description: err.message,
      ...(err instanceof ConfigError ? { key: err.key } : {})
    }) + '\n'
  );
}

const code = await main(process.argv.slice(2));
if (code !== undefined) process.exitCode = code;
