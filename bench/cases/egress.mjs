/**
 * The egress of issue 13: a download and a small request from a Python client made like a kernel,
 * through the broker's egress (`broker_session(provider)` → the Jupyter server's egress route → the
 * broker, which adds the token → the API) against the same URL called directly with `requests`,
 * alternated in one run. The API is bare node:http in its own process (`jupyter/egress-upstream.mjs`)
 * serving `bytes` bytes; the provider is the benchmark IdP's service account (`client_credentials`)
 * with `egress: ["http://127.0.0.1:<port>/data/"]`. While the egress downloads run, the broker's and
 * the Jupyter server's RSS are read from /proc every `sampleMs`. A second phase times the floor, a
 * bare tornado streaming proxy in the same Jupyter server (`jupyter/tb_bench_egress.py`, no broker),
 * against the direct download again: what the Python server itself can move; and the node floor, the
 * extension's real egress route in front of a bare node:http pipe on a unix socket
 * (`jupyter/egress-pipe-server.mjs`) instead of the broker: broker − node floor is the broker's own
 * work.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, SERVICE_SCOPES } from '../harness/idp.mjs';
import { PYTHON, brokerOf, startJupyter } from '../harness/jupyter.mjs';
import {
  cpuMs,
  median,
  privateDir,
  rssKiB,
  startReady,
  streamJson,
  writePrivate
} from '../harness/processes.mjs';
import { freePorts } from '../../packages/demo/lib/ports.mjs';

const PROVIDER = 'service';
const JUPYTER_DIR = fileURLToPath(new URL('../jupyter/', import.meta.url));
const CLIENT = join(JUPYTER_DIR, 'egress_bench_client.py');

/** RSS of a process in KiB, or null once it has ended. */
function rssOrNull(pid) {
  try {
    return rssKiB(pid);
  } catch {
    return null;
  }
}

/** CPU time of a process so far in ms, or null once it has ended. */
function cpuOrNull(pid) {
  try {
    return cpuMs(pid);
  } catch {
    return null;
  }
}

/**
 * Runs the client while reading the processes' RSS every `sampleMs`; its start/end lines are
 * stamped with the same clock and with each process's CPU time so far.
 *
 * @returns {Promise<{summary: object, samples: object[], events: object[]}>}
 */
async function sampled(args, env, pids, sampleMs) {
  const samples = [];
  const events = [];
  const read = () => {
    const sample = { t: Date.now() };
    for (const [name, pid] of Object.entries(pids)) sample[name] = rssOrNull(pid);
    samples.push(sample);
  };
  read();
  const timer = setInterval(read, sampleMs);
  try {
    const last = await streamJson(
      PYTHON,
      [CLIENT, ...args],
      line => {
        if (!line.event) return;
        const cpu = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuOrNull(pid)]));
        events.push({ ...line, t: Date.now(), cpu });
      },
      { env, timeoutMs: 600000 }
    );
    read();
    return { summary: last.summary, samples, events };
  } finally {
    clearInterval(timer);
  }
}

/**
 * The most each process's RSS rose above `baseline` while a download of `route` ran (samples from
 * its start line to its end line, and the one just after).
 */
function peakGrowth(run, route, baseline) {
  const windows = [];
  for (const start of run.events.filter(e => e.event === 'start' && e.route === route)) {
    const end = run.events.find(
      e => e.event === 'end' && e.route === route && e.round === start.round
    );
    windows.push([start.t, end?.t ?? Infinity]);
  }
  const growth = {};
  const perDownload = {};
  for (const name of Object.keys(baseline)) {
    perDownload[name] = windows.map(([from, to]) => {
      const inside = run.samples.filter(s => s.t >= from && s.t <= to + 60 && s[name] !== null);
      return inside.length === 0
        ? null
        : (Math.max(...inside.map(s => s[name])) - baseline[name]) / 1024;
    });
    const known = perDownload[name].filter(v => v !== null);
    growth[name] = known.length === 0 ? null : Math.max(...known);
  }
  return { growth_mb: growth, per_download_mb: perDownload, samples_in_windows: windows.length };
}

/**
 * CPU each process spent per download of `route` (ms, median over its downloads, from the start
 * and end lines): where the time of a slow route goes on a machine with few cores.
 */
function cpuPerDownload(run, route) {
  const spent = {};
  for (const start of run.events.filter(e => e.event === 'start' && e.route === route)) {
    const end = run.events.find(
      e => e.event === 'end' && e.route === route && e.round === start.round
    );
    for (const name of Object.keys(start.cpu)) {
      if (end?.cpu[name] == null || start.cpu[name] === null) continue;
      (spent[name] ??= []).push(end.cpu[name] - start.cpu[name]);
    }
    if (typeof end?.cpu_s === 'number') (spent.client ??= []).push(end.cpu_s * 1000);
  }
  return Object.fromEntries(Object.entries(spent).map(([name, values]) => [name, median(values)]));
}

/**
 * Runs the case.
 *
 * @param {object} options - `idp` (the benchmark's IdP), `megabytes` (the download's size, MB of
 *   10^6 bytes), `rounds` (downloads per route), `requests` and `warmup` (small requests per route),
 *   `sampleMs` (RSS sampling period).
 * @returns {Promise<object>} MB/s of each route (median and best), `egress_throughput_ratio`
 *   (egress / direct, medians), the floor's MB/s and its ratio, peak RSS growth of the broker and the
 *   Jupyter server during the egress downloads, the small request's p50/p90 each way,
 *   `egress_added_ms` and `egress_latency_ratio`, and every sample.
 */
export async function measureEgress({ idp, megabytes, rounds, requests, warmup, sampleMs }) {
  const bytes = Math.round(megabytes * 1e6);
  const upstream = await startReady(process.execPath, [
    join(JUPYTER_DIR, 'egress-upstream.mjs'),
    String(bytes)
  ]);
  const api = `http://127.0.0.1:${upstream.ready.port}/`;
  const runDir = privateDir('egress-run');
  const secretFile = join(runDir, 'service-secret');
  const pipeSocket = join(runDir, 'pipe.sock');
  const pipe = await startReady(process.execPath, [
    join(JUPYTER_DIR, 'egress-pipe-server.mjs'),
    pipeSocket
  ]);
  writePrivate(secretFile, `${SERVICE_CLIENT_SECRET}\n`);
  const [port] = await freePorts(1);
  let jupyter = null;
  try {
    jupyter = await startJupyter({
      port,
      name: 'egress',
      providers: [
        {
          id: PROVIDER,
          title: 'Bench service account',
          kind: 'oidc',
          issuer: idp.issuer,
          client_id: SERVICE_CLIENT_ID,
          client_secret_file: secretFile,
          grant: 'client_credentials',
          scopes: SERVICE_SCOPES,
          egress: [`${api}data/`]
        }
      ],
      configLines: [
        'c.ServerApp.jpserver_extensions["tb_bench_egress"] = True',
        // The broker must not stop for idleness between the phases.
        'c.TokenBroker.idle_exit_seconds = 0'
      ],
      env: {
        PYTHONPATH: JUPYTER_DIR,
        TB_BENCH_EGRESS_UPSTREAM: api,
        TB_BENCH_EGRESS_PIPE_SOCKET: pipeSocket
      }
    });
    const env = { ...process.env, PYTHONPATH: '' };
    const common = [jupyter.base, jupyter.token, PROVIDER];
    const floorUrl = `${jupyter.base}tb-bench/egress-floor/data/big`;
    const pipeUrl =
      `${jupyter.base}tb-bench/egress-pipe/api/v1/egress/${PROVIDER}/http/` +
      `127.0.0.1:${upstream.ready.port}/data/big`;

    // Small requests first: they start the broker, get the service account's token and open the
    // connections, before the memory baseline is read.
    const latency = (
      await sampled(
        [
          ...common,
          'latency',
          String(requests),
          String(warmup),
          `egress=${api}data/small`,
          `direct=${api}data/small`,
          `floor_node=${pipeUrl.replace(/big$/, 'small')}`
        ],
        env,
        {},
        sampleMs
      )
    ).summary;
    const brokerPid = brokerOf(jupyter.pid);
    if (brokerPid === undefined) throw new Error('no broker runs after the egress calls');
    const pids = {
      broker: brokerPid,
      jupyter: jupyter.pid,
      upstream: upstream.ready.pid,
      pipe: pipe.ready.pid
    };
    const baseline = { broker: rssKiB(brokerPid), jupyter: rssKiB(jupyter.pid) };
    const pipeBaseline = rssKiB(pipe.ready.pid);

    const main = await sampled(
      [...common, 'download', String(rounds), `egress=${api}data/big`, `direct=${api}data/big`],
      env,
      pids,
      sampleMs
    );
    const rss = peakGrowth(main, 'egress', baseline);
    const floorRun = await sampled(
      [
        ...common,
        'download',
        String(rounds),
        `floor=${floorUrl}`,
        `floor_node=${pipeUrl}`,
        `direct=${api}data/big`
      ],
      env,
      pids,
      sampleMs
    );
    const d = main.summary;
    const f = floorRun.summary;
    const growth = rss.growth_mb;
    return {
      bytes: d.bytes,
      rounds,
      direct: d.direct,
      egress: d.egress,
      egress_throughput_ratio: d.egress.mb_per_s_median / d.direct.mb_per_s_median,
      egress_throughput_ratio_best: d.egress.mb_per_s_best / d.direct.mb_per_s_best,
      floor: f.floor,
      floor_direct: f.direct,
      floor_throughput_ratio: f.floor.mb_per_s_median / f.direct.mb_per_s_median,
      floor_node: f.floor_node,
      floor_node_throughput_ratio: f.floor_node.mb_per_s_median / f.direct.mb_per_s_median,
      egress_over_floor: d.egress.mb_per_s_median / f.floor.mb_per_s_median,
      rss_baseline_mb: { broker: baseline.broker / 1024, jupyter: baseline.jupyter / 1024 },
      egress_peak_rss_growth_mb:
        growth.broker === null || growth.jupyter === null
          ? null
          : Math.max(growth.broker, growth.jupyter),
      egress_peak_rss_growth_broker_mb: growth.broker,
      egress_peak_rss_growth_jupyter_mb: growth.jupyter,
      rss_per_download_mb: rss.per_download_mb,
      // CPU ms per download (median) of the processes on the way, each route; the client's own
      // (requests reading the answer) is in the Python client, not counted here.
      cpu_ms_per_download: {
        egress: cpuPerDownload(main, 'egress'),
        floor: cpuPerDownload(floorRun, 'floor'),
        floor_node: cpuPerDownload(floorRun, 'floor_node')
      },
      floor_rss_growth_jupyter_mb: peakGrowth(floorRun, 'floor', baseline).growth_mb.jupyter,
      // The bare node pipe's own growth while it carried the same downloads (read after the same
      // small requests): what node's HTTP streams hold whatever the broker does.
      floor_node_rss_growth_pipe_mb: peakGrowth(floorRun, 'floor_node', { pipe: pipeBaseline })
        .growth_mb.pipe,
      sample_ms: sampleMs,
      samples: main.samples.length,
      small: latency,
      egress_added_ms: latency.egress.p50_ms - latency.direct.p50_ms,
      egress_latency_ratio: latency.egress.p50_ms / latency.direct.p50_ms,
      // The small request through the extension's route and the bare node pipe: egress − this is
      // the broker's own share of the added time.
      floor_node_added_ms: latency.floor_node.p50_ms - latency.direct.p50_ms
    };
  } finally {
    await Promise.all([jupyter?.stop(), upstream.stop(), pipe.stop()]);
  }
}
