/**
 * What the server extension costs a Jupyter server that never or rarely asks for a token, the hub
 * case of issue 12: the same real `jupyter server` started with `jupyter_token_broker` enabled and
 * disabled, alternately in one run, its memory counted with every process under it (a running
 * broker counts, and so does the config check while it runs). Then a service account's token
 * (`client_credentials`, default memory store) through the server as a kernel asks for it: cold (no
 * broker running: just after the server started, and again after the broker's idle exit) and warm;
 * and the memory after the idle exit. From these, the brokers' memory on a hub of N users with k
 * of them active, against every user carrying a running broker.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { freePorts } from '../../packages/demo/lib/ports.mjs';
import { SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, SERVICE_SCOPES } from '../harness/idp.mjs';
import { brokerOf, startJupyter } from '../harness/jupyter.mjs';
import { median, privateDir, sleep, writePrivate } from '../harness/processes.mjs';
import { descendants, processMemory, treeMemory } from '../harness/processTree.mjs';

const PROVIDER = 'service';
const CHECK_CONFIG = / check-config( |$)/;

/** Waits until `predicate()` holds, polling; false when `timeoutMs` passed first. */
async function until(predicate, timeoutMs, pollMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
}

/**
 * Waits until the server's start-up is over: its config check (a short node process) has run and
 * ended, and a broker it started at once (the extension before issue 12) said it is ready. A check
 * may begin a little after the server answers: with none seen, `unseenMs` of quiet count as done.
 */
async function settle(jupyter, { quietMs = 1500, unseenMs = 3000, timeoutMs = 30000 } = {}) {
  let seen = false;
  let lastBusy = Date.now();
  const quiet = await until(() => {
    if (descendants(jupyter.pid).some(p => CHECK_CONFIG.test(p.cmdline))) {
      seen = true;
      lastBusy = Date.now();
      return false;
    }
    return Date.now() - lastBusy >= (seen ? quietMs : unseenMs);
  }, timeoutMs);
  if (!quiet) throw new Error('the config check did not end');
  return seen;
}

/** The median of `samples` readings of the whole tree's memory, `gapMs` apart. */
async function sampleTree(pid, samples = 3, gapMs = 300) {
  const readings = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(gapMs);
    readings.push(treeMemory(pid));
  }
  return {
    rss_kib: median(readings.map(r => r.rss_kib)),
    pss_kib: median(readings.map(r => r.pss_kib)),
    processes: readings.at(-1).processes.length
  };
}

/** A token request through the Jupyter server as the kernel helper makes it; its status and ms. */
async function tokenRequest(jupyter) {
  const started = process.hrtime.bigint();
  const response = await fetch(`${jupyter.api}providers/${PROVIDER}/token`, {
    method: 'POST',
    headers: {
      Authorization: `token ${jupyter.token}`,
      Accept: 'application/json',
      'Content-Type': 'application/json',
      'X-Token-Broker-Client': 'kernel'
    },
    body: '{}'
  });
  const body = await response.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { status: response.status, ms, body };
}

/**
 * One token request, then `warm` more; with the extension each must be a 200 with a token. The
 * server without the extension gets the same requests (answered 404) so that both serve as much.
 */
async function useTokens(jupyter, warm, { expectTokens }) {
  const first = await tokenRequest(jupyter);
  const times = [];
  for (const answer of [first, ...(await sequential(warm, () => tokenRequest(jupyter)))]) {
    if (expectTokens && (answer.status !== 200 || !answer.body.includes('access_token'))) {
      throw new Error(`token request answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    }
    times.push(answer.ms);
  }
  return { cold_ms: first.ms, warm_ms: times.slice(1) };
}

async function sequential(count, task) {
  const results = [];
  for (let i = 0; i < count; i++) results.push(await task());
  return results;
}

/** What the server's routes and a first page load ask of any server, extension or not. */
async function touch(jupyter) {
  for (let i = 0; i < 3; i++) {
    await fetch(`${jupyter.base}api/status`, {
      headers: { Authorization: `token ${jupyter.token}` }
    }).then(r => r.arrayBuffer());
  }
}

/**
 * The brokers' memory on a hub: `active` users with a running broker, the others with the extension
 * idle, against every user with a running broker.
 *
 * @param {number} activeMb - what a user with a running broker adds (MB)
 * @param {number} idleMb - what a user whose broker left adds (MB)
 * @returns {object[]} one row per (users, active share)
 */
export function projectHub(activeMb, idleMb) {
  const rows = [];
  for (const users of [1000, 10000]) {
    for (const share of [0.05, 0.2]) {
      const active = Math.round(users * share);
      const projected = (active * activeMb + (users - active) * idleMb) / 1024;
      const today = (users * activeMb) / 1024;
      rows.push({
        users,
        active_share: share,
        active,
        projected_gb: projected,
        today_gb: today,
        saved_share: 1 - projected / today
      });
    }
  }
  return rows;
}

/**
 * Runs the case: `runs` servers with the extension and as many without, alternated.
 *
 * @param {object} options - `idp` (the benchmark's IdP), `runs`, `idleExitSeconds` (the servers'
 *   `c.TokenBroker.idle_exit_seconds`), `warm` (warm token requests after each cold one), `say`,
 *   `env` (more environment for the servers, e.g. a `PYTHONPATH` with another build of the
 *   extension).
 * @returns {Promise<object>} the figures (MB differences of medians, RSS and PSS), every sample, the
 *   cold and warm token times, and the hub projection.
 */
export async function measureExtensionFootprint({ idp, runs, idleExitSeconds, warm, say, env }) {
  const secrets = privateDir('ext-secret');
  const secretFile = join(secrets, 'service-secret');
  writePrivate(secretFile, `${SERVICE_CLIENT_SECRET}\n`);
  const providers = [
    {
      id: PROVIDER,
      title: 'Bench service account',
      kind: 'oidc',
      issuer: idp.issuer,
      client_id: SERVICE_CLIENT_ID,
      client_secret_file: secretFile,
      grant: 'client_credentials',
      scopes: SERVICE_SCOPES
    }
  ];
  const samples = { with: [], without: [] };
  const cold = [];
  const warmMs = [];
  // Before issue 12 the broker never leaves: one run's wait shows it, the next runs skip it.
  let waitForExit = true;

  for (let i = 0; i < runs; i++) {
    for (const extension of i % 2 ? [false, true] : [true, false]) {
      const [port] = await freePorts(1);
      const jupyter = await startJupyter({
        port,
        providers,
        extension,
        name: extension ? 'ext-on' : 'ext-off',
        configLines: [`c.TokenBroker.idle_exit_seconds = ${idleExitSeconds}`],
        env
      });
      try {
        const sample = { run: i };
        // Without the extension no config check ever runs: a second of quiet is enough.
        sample.config_check_seen = await settle(jupyter, extension ? {} : { unseenMs: 1000 });
        // A broker started with the server (before issue 12) counts once it is ready.
        if (brokerOf(jupyter.pid) !== undefined) {
          await until(
            () => readFileSync(jupyter.logFile, 'utf8').includes('ready (version'),
            30000
          );
          await sleep(1000);
        }
        await touch(jupyter);
        await sleep(500);
        sample.broker_before_use = brokerOf(jupyter.pid) !== undefined;
        sample.before_use = await sampleTree(jupyter.pid);

        const first = await useTokens(jupyter, warm, { expectTokens: extension });
        await sleep(500);
        const brokerPid = brokerOf(jupyter.pid);
        sample.active = await sampleTree(jupyter.pid);
        sample.broker_after_use = brokerPid === undefined ? null : processMemory(brokerPid);
        if (extension) {
          cold.push({
            after: sample.broker_before_use ? 'start, broker running' : 'start',
            ms: first.cold_ms
          });
          warmMs.push(...first.warm_ms);
        }

        if (extension && waitForExit) {
          const since = Date.now();
          const exited = await until(
            () => brokerOf(jupyter.pid) === undefined,
            (idleExitSeconds + 20) * 1000,
            200
          );
          sample.idle_exit_after_s = exited ? (Date.now() - since) / 1000 : null;
          if (exited) {
            await settle(jupyter, { unseenMs: 1000 });
            sample.after_idle_exit = await sampleTree(jupyter.pid);
            const again = await useTokens(jupyter, warm, { expectTokens: true });
            cold.push({ after: 'idle exit', ms: again.cold_ms });
            warmMs.push(...again.warm_ms);
          } else {
            waitForExit = false;
            say?.(`  no idle exit within ${idleExitSeconds + 20} s: not waited for in later runs`);
          }
        } else if (!extension) {
          // The same quiet time as the extension's wait for its idle exit, scaled down: memory of
          // a server left alone for a few seconds after serving the same requests.
          await sleep(1000);
          sample.after_idle_exit = await sampleTree(jupyter.pid);
        }
        samples[extension ? 'with' : 'without'].push(sample);
      } finally {
        await jupyter.stop();
      }
    }
  }
  return summarize({ samples, cold, warmMs, runs, idleExitSeconds, warm });
}

function summarize({ samples, cold, warmMs, runs, idleExitSeconds, warm }) {
  const mb = kib => kib / 1024;
  /** Median over runs of one reading, in MB, or null when no run has it. */
  const med = (side, key, metric) => {
    const values = samples[side].filter(s => s[key]).map(s => s[key][metric]);
    return values.length === 0 ? null : mb(median(values));
  };
  const minus = (a, b) => (a === null || b === null ? null : a - b);
  const figures = metric => ({
    before_use: minus(med('with', 'before_use', metric), med('without', 'before_use', metric)),
    after_idle_exit: minus(
      med('with', 'after_idle_exit', metric),
      med('without', 'after_idle_exit', metric)
    ),
    active: minus(med('with', 'active', metric), med('without', 'active', metric)),
    broker_after_use: med('with', 'broker_after_use', metric)
  });
  const rss = figures('rss_kib');
  const pss = figures('pss_kib');
  const coldMs = cold.length === 0 ? null : median(cold.map(c => c.ms));
  const warmP50 = warmMs.length === 0 ? null : median(warmMs);
  const idleMb = rss.after_idle_exit;
  return {
    runs,
    idle_exit_seconds: idleExitSeconds,
    warm_requests: warm,
    metric: 'VmRSS of the Jupyter server and all its descendants, summed (PSS alongside)',
    extension_idle_mb_before_use: rss.before_use,
    extension_idle_mb_after_idle_exit: rss.after_idle_exit,
    extension_active_mb: rss.active,
    broker_rss_after_use_mb: rss.broker_after_use,
    pss_mb: pss,
    brokers_running_before_use: samples.with.filter(s => s.broker_before_use).length,
    idle_exits: samples.with.filter(s => s.after_idle_exit).length,
    idle_exit_after_s: samples.with.map(s => s.idle_exit_after_s ?? null),
    cold_first_token_ms: coldMs,
    warm_token_p50_ms: warmP50,
    cold_first_token_ratio: coldMs === null || warmP50 === null ? null : coldMs / warmP50,
    cold,
    // Until an idle exit is seen the idle users are counted as carrying a running broker too.
    projection:
      rss.active === null ? null : projectHub(rss.active, idleMb === null ? rss.active : idleMb),
    samples
  };
}
