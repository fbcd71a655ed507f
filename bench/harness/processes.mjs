/**
 * Child processes of the benchmark: private run directories, processes that announce readiness with
 * one JSON line on stdout, their resident memory, and cleanup of everything still running at exit.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const running = new Set();
const directories = new Set();

process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(130));
}

/**
 * A fresh 0700 directory under the temp dir, removed at exit.
 *
 * @param {string} prefix - name prefix.
 * @returns {string} its path.
 */
export function privateDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `tb-bench-${prefix}-`));
  chmodSync(dir, 0o700);
  directories.add(dir);
  return dir;
}

/**
 * Writes a file only its owner can read.
 *
 * @param {string} path - where.
 * @param {string} text - what.
 */
export function writePrivate(path, text) {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Starts a process and waits for its ready line (the first stdout line that parses as JSON with
 * `ready: true`).
 *
 * @param {string} command - executable.
 * @param {string[]} args - arguments.
 * @param {object} [options] - `cwd`, `env`, `timeoutMs` (default 20 s), `stderr` ('ignore' | 'pipe').
 * @returns {Promise<{child: import('node:child_process').ChildProcess, ready: object,
 *   startMs: number, stderr: () => string, stop: () => Promise<void>}>} the running process and the
 *   milliseconds from spawn to its ready line.
 */
export function startReady(command, args, options = {}) {
  const started = process.hrtime.bigint();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  running.add(child);
  let errText = '';
  child.stderr.on('data', chunk => {
    if (errText.length < 20000) errText += chunk;
  });
  const stop = () => stopChild(child, 5000);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${command} ${args.join(' ')}: no ready line in time\n${errText}`));
    }, options.timeoutMs ?? 20000);
    const onData = chunk => {
      out += chunk;
      let newline;
      while ((newline = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, newline);
        out = out.slice(newline + 1);
        let parsed;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (parsed?.ready === true) {
          const startMs = Number(process.hrtime.bigint() - started) / 1e6;
          clearTimeout(timer);
          child.stdout.off('data', onData);
          child.stdout.resume();
          resolve({ child, ready: parsed, startMs, stderr: () => errText, stop });
          return;
        }
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', code => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`${command} ${args.join(' ')} exited (${code}) before ready\n${errText}`));
    });
  });
}

/**
 * Resident memory of a process.
 *
 * @param {number} pid - the process.
 * @returns {number} VmRSS in KiB.
 */
export function rssKiB(pid) {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]);
}

/**
 * Runs a process to completion and parses its last stdout line as JSON.
 *
 * @param {string} command - executable.
 * @param {string[]} args - arguments.
 * @param {object} [options] - `env`, `timeoutMs` (default 120 s).
 * @returns {Promise<object>} the parsed line.
 */
export function runJson(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    running.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', chunk => (out += chunk));
    child.stderr.on('data', chunk => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120000);
    child.once('exit', code => {
      clearTimeout(timer);
      running.delete(child);
      const last = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(last));
      } catch (error) {
        reject(new Error(`${command} ${args[0]}: ${error.message}\n${err.slice(-4000)}`));
      }
    });
  });
}

/**
 * Runs a process to completion, handing each stdout line that parses as JSON to `onLine` as it
 * comes, and resolves with the last one.
 *
 * @param {string} command - executable.
 * @param {string[]} args - arguments.
 * @param {(line: object) => void} onLine - called with each parsed line.
 * @param {object} [options] - `env`, `timeoutMs` (default 120 s).
 * @returns {Promise<object>} the last parsed line.
 */
export function streamJson(command, args, onLine, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    running.add(child);
    let pending = '';
    let last;
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', chunk => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        try {
          last = JSON.parse(text);
        } catch {
          continue;
        }
        onLine(last);
      }
    });
    child.stderr.on('data', chunk => {
      if (err.length < 20000) err += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120000);
    child.once('exit', code => {
      clearTimeout(timer);
      running.delete(child);
      if (code === 0 && last !== undefined) resolve(last);
      else reject(new Error(`${command} ${args[0]}: exit ${code}\n${err.slice(-4000)}`));
    });
  });
}

/**
 * The median of some numbers.
 *
 * @param {number[]} values - the numbers.
 * @returns {number} the median.
 */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Resolves after `ms` milliseconds. */
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

/**
 * CPU time a process has used so far.
 *
 * @param {number} pid - the process.
 * @returns {number} user + system time in milliseconds.
 */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5), counted in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Stops a child started here: SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited.
 *
 * @param {import('node:child_process').ChildProcess} child - the process
 * @param {number} graceMs - how long it may take to exit by itself
 * @returns {Promise<void>}
 */
function stopChild(child, graceMs) {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) {
      running.delete(child);
      resolve();
      return;
    }
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      running.delete(child);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts a long-running process whose output goes to a file; it is killed at exit if still running.
 *
 * @param {string} command - executable.
 * @param {string[]} args - arguments.
 * @param {object} options - `env`, `cwd`, `logFile`.
 * @returns {{child: import('node:child_process').ChildProcess, stop: () => Promise<void>}} it.
 */
export function startLogged(command, args, { env, cwd, logFile }) {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', out, out] });
  closeSync(out);
  running.add(child);
  const stop = () => stopChild(child, 15000);
  return { child, stop };
}
