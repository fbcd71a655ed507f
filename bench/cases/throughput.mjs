/**
 * Cache-hit token issue over the unix socket, against a minimal express 5 app answering a JSON body
 * of the same size on the same kind of socket, with the same client, in the same run.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startBroker, signIn, tokenRequest, trustedHeaders } from '../harness/broker.mjs';
import { cpuMs, privateDir, runJson, startReady } from '../harness/processes.mjs';

const LOAD_CLIENT = fileURLToPath(new URL('../harness/loadClient.mjs', import.meta.url));
const EXPRESS_BASELINE = fileURLToPath(new URL('../servers/express-baseline.mjs', import.meta.url));

/**
 * Runs one load point against a server process.
 *
 * @returns {Promise<object>} the load client's figures plus the server's CPU time per request.
 */
async function load(server, target, request, concurrency, { warmupMs, durationMs }) {
  const cpuBefore = cpuMs(server.child.pid);
  const figures = await runJson(process.execPath, [
    LOAD_CLIENT,
    JSON.stringify({ mode: 'duration', target, request, concurrency, warmupMs, durationMs })
  ]);
  const cpu = cpuMs(server.child.pid) - cpuBefore;
  return { ...figures, server_cpu_us_per_request: (cpu * 1000) / Math.max(1, figures.total) };
}

/**
 * Measures the servers at each concurrency, alternating them round by round so that background load
 * on a shared machine hits all alike; each server's best round counts. The broker runs twice: as the
 * Jupyter server extension configures it (audit trail in a JSON-lines file, its default) and with
 * the audit trail in memory only (the broker's own default), which shows what the file costs.
 *
 * @param {object} options - `idp`, `concurrencies`, `rounds`, `warmupMs`, `durationMs`.
 * @returns {Promise<object>} `{body_bytes, points: [{concurrency, broker, broker_memory_audit,
 *   express, ratio, ratio_memory_audit}]}`.
 */
export async function measureThroughput({ idp, concurrencies, rounds, warmupMs, durationMs }) {
  idp.accessTokenTtl = 3600;
  const servers = {};
  const baselineDir = privateDir('express');
  try {
    servers.broker = await startBroker({
      issuer: idp.issuer,
      name: 'throughput',
      auditFile: true
    });
    const key = servers.broker.key;
    servers.broker_memory_audit = await startBroker({
      issuer: idp.issuer,
      name: 'throughput-memory-audit',
      key
    });
    await signIn(servers.broker, idp);
    await signIn(servers.broker_memory_audit, idp);
    const first = await tokenRequest(servers.broker);
    if (first.status !== 200) throw new Error(`token request failed: ${first.text}`);
    const bodyBytes = Buffer.byteLength(first.text);
    const socket = join(baselineDir, 'express.sock');
    servers.express = {
      socket,
      ...(await startReady(process.execPath, [EXPRESS_BASELINE, socket, first.text]))
    };

    const request = {
      method: 'POST',
      path: '/api/v1/providers/demo/token',
      headers: { ...trustedHeaders(key), 'Content-Type': 'application/json' },
      body: JSON.stringify({ min_ttl: 60 })
    };
    const points = [];
    for (const concurrency of concurrencies) {
      const runs = Object.fromEntries(Object.keys(servers).map(name => [name, []]));
      for (let round = 0; round < rounds; round++) {
        for (const [name, server] of Object.entries(servers)) {
          runs[name].push(
            await load(server, { socket: server.socket }, request, concurrency, {
              warmupMs,
              durationMs
            })
          );
        }
      }
      for (const [name, figures] of Object.entries(runs)) {
        for (const run of figures) {
          const ok = run.statuses['200'] ?? 0;
          if (ok !== run.requests || run.errors > 0) {
            throw new Error(`${name} answered other than 200: ${JSON.stringify(run)}`);
          }
        }
      }
      const best = list => list.reduce((a, b) => (b.rps > a.rps ? b : a));
      const point = { concurrency };
      for (const name of Object.keys(runs)) point[name] = best(runs[name]);
      point.ratio = point.broker.rps / point.express.rps;
      point.ratio_memory_audit = point.broker_memory_audit.rps / point.express.rps;
      points.push(point);
    }
    return { body_bytes: bodyBytes, points };
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
}
