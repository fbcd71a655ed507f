/**
 * The broker process's own memory while a large body passes through its egress: the bundle runs
 * as a child (as the server extension runs it) and its resident set is read from /proc while a
 * 256 MiB download and upload pass, read and written by this process (the resource server and the
 * caller). Its growth stays under a quarter of the body, whatever the body's size: what Node's HTTP
 * read buffers hold until the garbage collector frees them (measured: 19 MiB down on Node 20, 43.5
 * MiB on Node 24; a bare Node relay grows as much), where a broker that held the body would grow
 * by 256 MiB or more. The bench goal (10 MB) is not met: `make bench` prints the figure.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import {
  type BrokerProcess,
  sharedStore,
  startBrokerProcess,
  stopBrokerProcess
} from '../crash/brokerProcess.js';
import type { TestBroker } from '../fixtures/broker.js';
import { type IdP, startIdP } from '../fixtures/idp.js';
import { streamRequest } from './client.js';
import { startUpstream, type Upstream } from './upstream.js';

const MIB = 1024 * 1024;
const SIZE = 256 * MIB;
/** A quarter of the body (see above). */
const BOUND = SIZE / 4;

let base: string;
let idp: IdP;
let upstream: Upstream;
let broker: BrokerProcess;

/** The child's resident set in bytes (VmRSS). */
function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Samples the child's RSS every 20 ms; the stop function gives the peak growth. */
function watch(pid: number): () => number {
  const start = rssOf(pid);
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 20);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssOf(pid)) - start;
  };
}

function blocks(total: number): Readable {
  const block = Buffer.alloc(64 * 1024, 0x62);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const size = Math.min(left, block.length);
      left -= size;
      this.push(size === block.length ? block : block.subarray(0, size));
    }
  });
}

/** The child as the streaming client wants it. */
function asTestBroker(process: BrokerProcess): TestBroker {
  return { socket: process.socket, key: process.key } as TestBroker;
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tb-egress-mem-'));
  idp = await startIdP();
  upstream = await startUpstream(idp);
  broker = await startBrokerProcess(base, idp, await sharedStore(base), 5000, {
    egress: [`${upstream.origin}/api/`]
  });
  expect((await broker.login(idp)).status).toBe(200);
  // Warm up: the first call loads the forwarder and sizes the heap.
  await streamRequest(
    asTestBroker(broker),
    'GET',
    `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/stream?bytes=${16 * MIB}`
  );
}, 60000);

afterAll(async () => {
  await stopBrokerProcess(broker);
  await upstream.close();
  await idp.close();
  await rm(base, { recursive: true, force: true });
});

describe("the broker process's memory", () => {
  test('a 256 MiB download', async () => {
    const stop = watch(broker.child.pid!);
    const answer = await streamRequest(
      asTestBroker(broker),
      'GET',
      `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/stream?bytes=${SIZE}`
    );
    const growth = stop();
    console.warn(`broker process, 256 MiB download: RSS growth ${(growth / MIB).toFixed(1)} MiB`);
    expect(answer.bytes).toBe(SIZE);
    expect(growth).toBeLessThan(BOUND);
  }, 60000);

  test('a 256 MiB upload', async () => {
    const stop = watch(broker.child.pid!);
    const answer = await streamRequest(
      asTestBroker(broker),
      'PUT',
      `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/upload`,
      { headers: { 'content-length': String(SIZE) }, body: blocks(SIZE) }
    );
    const growth = stop();
    console.warn(`broker process, 256 MiB upload: RSS growth ${(growth / MIB).toFixed(1)} MiB`);
    expect(answer.status).toBe(201);
    expect(growth).toBeLessThan(BOUND);
  }, 60000);
});
