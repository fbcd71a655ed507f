/**
 * Process supervision for the demo launchers: start a stack of processes in order, wait until each is ready,
 * and stop every one of them (and whatever they started) on any failure, on exit, and on SIGINT/SIGTERM/SIGHUP.
 *
 * A launcher is a function given to {@link runStack}; it checks its ports, starts its processes and waits for them:
 *
 * @example
 * import { jsonReadyLine, runStack } from './lib/stack.mjs';
 *
 * await runStack({ name: 'demo' }, async stack => {
 *   await stack.checkPorts([{ port: 9400, name: 'demo IdP', hint: 'set DEMO_IDP_PORT=…' }]);
 *   const idp = stack.start({ name: 'demo IdP', command: process.execPath, args: ['idp.mjs'],
 *     ready: jsonReadyLine() });
 *   const { issuer } = await idp.ready;
 *   stack.say(`demo IdP at ${issuer}`);
 * });
 * // runStack returns only by exiting the process: 0 after a signal, 1 after a failure or a process that died.
 *
 * Every child runs in a process group of its own (`detached`), so stopping it also stops what it started (a
 * Jupyter server's broker and kernels). Processes stop newest first: SIGTERM to the process (a Jupyter server
 * then stops its own children), SIGKILL to its group after `stopTimeoutMs`; once a process has exited, for
 * whatever reason, what it left in its group gets SIGTERM and, two seconds later, SIGKILL. A failure is
 * reported in one line (`[name] …`), never as a stack trace: {@link StackError} carries a stable `code` and a
 * message written for the person at the terminal.
 */

import { spawn } from 'node:child_process';
import { LOOPBACK, portInUse } from './ports.mjs';

/** How long a process may take to print its ready line or answer its URL, by default. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** How long a process may take to exit after SIGTERM before its group gets SIGKILL, by default. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** How long what a process left in its group may take to exit after SIGTERM. */
const REAP_GRACE_MS = 2_000;

/**
 * A start-up failure, with a stable code and a one-line message for the person who ran the launcher.
 * Codes: `port_in_use`, `spawn_failed` (no such executable), `exited_early` (a process exited before it was
 * ready), `not_ready` (no ready sign within the timeout), `stopped` (the stack was stopped while waiting).
 */
export class StackError extends Error {
  /**
   * @param {'port_in_use' | 'spawn_failed' | 'exited_early' | 'not_ready' | 'stopped'} code - the kind.
   * @param {string} message - one line, naming the process or port.
   * @param {{cause?: unknown}} [options] - the underlying error.
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'StackError';
    this.code = code;
  }
}

/**
 * A ready check that waits for a JSON line `{"ready": true, …}` on stdout (what `idp.mjs`, `api.mjs` and the
 * broker print).
 *
 * @returns {ReadySpec} resolves with the parsed line.
 * @example
 * stack.start({ name: 'demo API', command: process.execPath, args: ['api.mjs'], ready: jsonReadyLine() });
 */
export function jsonReadyLine() {
  return {
    stream: 'stdout',
    line: text => {
      try {
        const parsed = JSON.parse(text);
        return parsed?.ready === true ? parsed : undefined;
      } catch {
        return undefined;
      }
    }
  };
}

/**
 * A ready check that polls a URL until it answers any HTTP status (a redirect to a login page counts: the
 * server listens).
 *
 * @param {string} url - the URL, e.g. `http://127.0.0.1:8888/lab`.
 * @param {number} [intervalMs] - the pause between attempts (default 250 ms).
 * @returns {ReadySpec} resolves with `{url, status}`.
 * @example
 * stack.start({ name: 'JupyterLab', command: 'jupyter', args: ['lab'], ready: httpReady('http://127.0.0.1:8888/lab') });
 */
export function httpReady(url, intervalMs = 250) {
  return { url, intervalMs };
}

/**
 * @typedef {{stream?: 'stdout' | 'stderr', line: (text: string) => unknown}
 *   | {url: string, intervalMs?: number}} ReadySpec
 *   Either a function called with each output line until it returns something other than `undefined` (the ready
 *   value), or a URL polled until it answers.
 */

/**
 * @typedef {object} ProcessSpec
 * @property {string} name - a label for messages, e.g. `demo IdP`.
 * @property {string} command - the executable.
 * @property {string[]} [args] - its arguments.
 * @property {NodeJS.ProcessEnv} [env] - its environment (default: the launcher's).
 * @property {string} [cwd] - its working directory.
 * @property {ReadySpec} [ready] - how to tell it is ready (default: ready as soon as it is spawned).
 * @property {number} [readyTimeoutMs] - how long to wait for that (default {@link DEFAULT_READY_TIMEOUT_MS}).
 */

/**
 * @typedef {object} PortSpec
 * @property {number} port - the port the stack will listen on.
 * @property {string} [host] - the address (default 127.0.0.1).
 * @property {string} name - what will listen there, e.g. `demo IdP`.
 * @property {string} [hint] - how to choose another port, e.g. `set DEMO_IDP_PORT=…`.
 */

/**
 * One started process.
 *
 * @typedef {object} StackProcess
 * @property {string} name - its label.
 * @property {number} pid - its process id (and process group id).
 * @property {Promise<unknown>} ready - resolves with the ready value; rejects with a {@link StackError}.
 * @property {Promise<{code: number | null, signal: string | null}>} exited - resolves when it has exited.
 */

/** A stack of processes, stopped newest first. Made by {@link runStack}, or directly for tests. */
export class Stack {
  /** @type {{name: string, child: import('node:child_process').ChildProcess, reaped: Promise<void>}[]} */
  #processes = [];
  #output;
  #prefix;
  #stopTimeoutMs;
  /** @type {Promise<void> | undefined} */
  #stopping;
  /** @type {(value: {name: string, code: number | null, signal: string | null}) => void} */
  #reportDeath = () => {};

  /**
   * A process that exited while the stack was not being stopped: resolves with the first one.
   *
   * @type {Promise<{name: string, code: number | null, signal: string | null}>}
   */
  died = new Promise(resolve => {
    this.#reportDeath = resolve;
  });

  /**
   * @param {object} [options] - the stack's options.
   * @param {string} [options.name] - the launcher's label for its own lines (default `stack`).
   * @param {import('node:stream').Writable} [options.output] - where every child's stdout and stderr go
   *   (a log file); default: the launcher's own stdout and stderr.
   * @param {number} [options.stopTimeoutMs] - SIGTERM to SIGKILL (default {@link DEFAULT_STOP_TIMEOUT_MS}).
   */
  constructor({ name = 'stack', output, stopTimeoutMs = DEFAULT_STOP_TIMEOUT_MS } = {}) {
    this.#prefix = `[${name}]`;
    this.#output = output;
    this.#stopTimeoutMs = stopTimeoutMs;
  }

  /** @returns {boolean} whether {@link Stack.stop} was called. */
  get stopping() {
    return this.#stopping !== undefined;
  }

  /**
   * Writes one line about the launcher itself to stderr (and to the log file, if any).
   *
   * @param {string} message - one line; never token material.
   */
  say(message) {
    const line = `${this.#prefix} ${message}\n`;
    process.stderr.write(line);
    this.#output?.write(line);
  }

  /**
   * Checks that nothing listens on any of the ports yet, so a taken port is named before anything starts.
   *
   * @param {PortSpec[]} ports - the ports the stack will use.
   * @returns {Promise<void>}
   * @throws {StackError} `port_in_use`, one line naming every taken port, what it was for and the hint.
   */
  async checkPorts(ports) {
    const taken = [];
    for (const spec of ports) {
      if (await portInUse(spec.port, spec.host ?? LOOPBACK)) {
        taken.push(spec);
      }
    }
    if (taken.length > 0) {
      throw new StackError(
        'port_in_use',
        taken
          .map(
            ({ port, name, hint }) =>
              `port ${port} (${name}) is in use: stop what uses it${hint ? ` or ${hint}` : ''}`
          )
          .join('; ')
      );
    }
  }

  /**
   * Starts a process in a process group of its own. Its output goes to the stack's output; its ready check
   * reads it too.
   *
   * @param {ProcessSpec} spec - what to start.
   * @returns {StackProcess} the process; await its `ready`.
   * @throws {StackError} `stopped` when the stack is already stopping.
   */
  start(spec) {
    if (this.stopping) {
      throw new StackError('stopped', `not starting ${spec.name}: the stack is stopping`);
    }
    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    child.stdout.pipe(this.#output ?? process.stdout, { end: false });
    child.stderr.pipe(this.#output ?? process.stderr, { end: false });

    // 'exit', not 'close': a grandchild (a Jupyter server's broker) may hold the pipes open after its parent
    // has gone. A spawn failure emits 'error' without 'exit', and leaves no pid.
    /** @type {Promise<Error>} */
    const spawnError = new Promise(resolve =>
      child.on('error', err => {
        if (child.pid === undefined) {
          resolve(err);
        }
      })
    );
    const exited = Promise.race([
      new Promise(resolve => child.once('exit', (code, signal) => resolve({ code, signal }))),
      spawnError.then(() => ({ code: null, signal: null }))
    ]);
    exited.then(({ code, signal }) => {
      if (!this.stopping) {
        this.#reportDeath({ name: spec.name, code, signal });
      }
    });
    // Whatever it started and left behind is stopped as soon as it has gone.
    const reaped = exited.then(() => this.#reapGroup(child));
    this.#processes.push({ name: spec.name, child, reaped });

    const ready = this.#waitReady(spec, child, exited, spawnError);
    // A launcher may stop waiting for `ready` (another process failed first): never an unhandled rejection.
    ready.catch(() => {});
    return { name: spec.name, pid: child.pid ?? -1, ready, exited };
  }

  /**
   * Stops every process, newest first: SIGTERM to it (a Jupyter server then stops its own broker and kernels),
   * SIGKILL to its whole group after the stop timeout; then SIGTERM and, two seconds later, SIGKILL to
   * whatever it left in its group. Idempotent.
   *
   * @returns {Promise<void>} resolves when every process and what it started have exited.
   */
  stop() {
    this.#stopping ??= (async () => {
      for (const { child, reaped } of [...this.#processes].reverse()) {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          signalGroup(child.pid, 'SIGTERM', { leaderOnly: true });
          if (!(await settlesWithin(reaped, this.#stopTimeoutMs))) {
            signalGroup(child.pid, 'SIGKILL');
          }
        }
        await reaped;
      }
    })();
    return this.#stopping;
  }

  /**
   * Stops what an exited process left in its process group.
   *
   * @param {import('node:child_process').ChildProcess} child - the exited group leader.
   * @returns {Promise<void>} resolves when the group is empty (or got SIGKILL).
   */
  async #reapGroup(child) {
    if (child.pid === undefined || !signalGroup(child.pid, 0)) {
      return;
    }
    signalGroup(child.pid, 'SIGTERM');
    const deadline = Date.now() + REAP_GRACE_MS;
    while (Date.now() < deadline && signalGroup(child.pid, 0)) {
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    signalGroup(child.pid, 'SIGKILL');
  }

  /**
   * Resolves with the ready value, or rejects with a {@link StackError}.
   *
   * @param {ProcessSpec} spec - the process's spec.
   * @param {import('node:child_process').ChildProcess} child - the process.
   * @param {Promise<{code: number | null, signal: string | null}>} exited - resolves when it exited.
   * @param {Promise<Error>} spawnError - resolves when it could not be spawned.
   * @returns {Promise<unknown>} the ready value.
   */
  async #waitReady(spec, child, exited, spawnError) {
    const timeoutMs = spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const controller = new globalThis.AbortController();
    let timer;
    const failure = Promise.race([
      spawnError.then(err => {
        throw new StackError('spawn_failed', `could not start ${spec.name}: ${err.message}`, {
          cause: err
        });
      }),
      exited.then(({ code, signal }) => {
        if (this.stopping) {
          throw new StackError('stopped', `${spec.name} was stopped before it was ready`);
        }
        throw new StackError(
          'exited_early',
          `${spec.name} exited (${signal ?? `code ${code}`}) before it was ready; its output is above`
        );
      }),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new StackError('not_ready', `${spec.name} was not ready after ${timeoutMs / 1000} s`)
            ),
          timeoutMs
        );
      })
    ]);
    try {
      if (!spec.ready) {
        return await Promise.race([failure, new Promise(resolve => child.once('spawn', resolve))]);
      }
      if ('url' in spec.ready) {
        return await Promise.race([failure, pollUrl(spec.ready, controller.signal)]);
      }
      const { line, stream = 'stdout' } = spec.ready;
      return await Promise.race([failure, firstLine(child[stream], line)]);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}

/**
 * Sends a signal to a process group (or only to its leader).
 *
 * @param {number} pgid - the group's id, its leader's pid.
 * @param {NodeJS.Signals | 0} signal - the signal; 0 only asks whether any member is left.
 * @param {{leaderOnly?: boolean}} [options] - signal the leader alone.
 * @returns {boolean} whether there was anyone to signal.
 */
function signalGroup(pgid, signal, { leaderOnly = false } = {}) {
  try {
    process.kill(leaderOnly ? pgid : -pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left.
  }
}

/**
 * Whether a promise settles within a time.
 *
 * @param {Promise<unknown>} promise - the promise.
 * @param {number} ms - the time.
 * @returns {Promise<boolean>} true when it settled in time.
 */
async function settlesWithin(promise, ms) {
  let timer;
  const timeout = new Promise(resolve => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with the first value `match` returns for a line of `input`. Reads with a 'data' listener of its
 * own, removed once matched, so the output keeps flowing to wherever it is piped.
 *
 * @param {import('node:stream').Readable} input - a child's stdout or stderr.
 * @param {(text: string) => unknown} match - the line check.
 * @returns {Promise<unknown>} the value.
 */
function firstLine(input, match) {
  return new Promise(resolve => {
    let pending = '';
    const onData = chunk => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const text of lines) {
        const value = match(text.replace(/\r$/, ''));
        if (value !== undefined) {
          input.off('data', onData);
          resolve(value);
          return;
        }
      }
    };
    input.setEncoding('utf8');
    input.on('data', onData);
  });
}

/**
 * Polls a URL until it answers.
 *
 * @param {{url: string, intervalMs?: number}} spec - the URL and the pause.
 * @param {AbortSignal} signal - stops polling.
 * @returns {Promise<{url: string, status: number}>} the first answer.
 */
async function pollUrl({ url, intervalMs = 250 }, signal) {
  while (!signal.aborted) {
    try {
      const response = await fetch(url, { redirect: 'manual', signal });
      await response.body?.cancel();
      return { url, status: response.status };
    } catch {
      await new Promise(resolve => setTimeout(resolve, intervalMs));
    }
  }
  return new Promise(() => {});
}

/**
 * Runs a launcher: makes a {@link Stack}, calls `main` with it, then keeps the stack up until a signal arrives
 * or one of its processes dies, and exits. Any failure (a {@link StackError} or anything else thrown) is said
 * in one line, every process started is stopped, and the exit code is 1; SIGINT, SIGTERM and SIGHUP stop
 * everything and exit 0.
 *
 * @param {object} options - the {@link Stack}'s options (`name`, `output`, `stopTimeoutMs`), plus:
 * @param {() => void | Promise<void>} [options.onExit] - called once everything is stopped, before exiting
 *   (close a log file).
 * @param {(stack: Stack) => Promise<void>} main - starts the processes and waits until they are ready.
 * @returns {Promise<never>} never resolves: the process exits.
 */
export async function runStack({ onExit, ...options }, main) {
  const stack = new Stack(options);
  /** @type {number | undefined} */
  let exitCode;

  // The first reason to stop decides the exit code; a second signal does not turn a failure into success.
  const finish = async code => {
    exitCode ??= code;
    await stack.stop();
    await onExit?.();
    process.exit(exitCode);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (!stack.stopping) {
        stack.say(`${signal}: stopping`);
      }
      void finish(0);
    });
  }
  const fail = err => {
    if (!stack.stopping) {
      stack.say(err instanceof Error ? err.message : String(err));
      void finish(1);
    }
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);

  // A process that dies while `main` still waits for another one (the IdP while JupyterLab starts) ends the
  // start at once rather than when the other one is ready or times out. One turn of the event loop later, so
  // that when `main` waits for the dead process itself, its more precise `exited_early` error is the one said.
  const death = stack.died.then(
    ({ name, code, signal }) =>
      new Promise((_, reject) =>
        setTimeout(() =>
          reject(
            new StackError(
              'exited_early',
              `${name} exited (${signal ?? `code ${code}`}); stopping everything`
            )
          )
        )
      )
  );
  death.catch(() => {});
  try {
    await Promise.race([main(stack), death]);
    await death;
  } catch (err) {
    fail(err);
  }
  return new Promise(() => {});
}
