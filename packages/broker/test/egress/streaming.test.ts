/**
 * A 1 GiB download and a 1 GiB upload through the egress pass without being held in memory: the
 * process (broker, resource server and client, all in this one) grows by less than a quarter of the
 * body while each passes, so no side buffers a body whole; a slow side holds the other back
 * (backpressure).
 */
import { request } from 'node:http';
import { Readable } from 'node:stream';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { createApp } from '../../src/app.js';
import { listen } from '../../src/server.js';
import { startBroker, type TestBroker } from '../fixtures/broker.js';
import { type IdP, startIdP } from '../fixtures/idp.js';
import { streamRequest } from './client.js';
import { startUpstream, type Upstream } from './upstream.js';

const GIB = 1024 * 1024 * 1024;
/**
 * The most this process may grow while a 1 GiB body passes: a quarter of it. The process also holds
 * the resource server and the caller, and how much their garbage waits for collection depends on
 * what ran before in the jest worker (alone: about 25 MiB down and 0.3 MiB up; in a full CI run
 * 90 and 145 MiB were seen); a forwarder that holds the body grows by about 1040 MiB. The broker's
 * own growth is asserted in its own process by `brokerMemory.test.ts` (32 MiB for 256 MiB) and by
 * the server extension's 1 GiB tests (64 MiB).
 */
const BOUND = 256 * 1024 * 1024;

let idp: IdP;
let upstream: Upstream;
let broker: TestBroker;

/** Samples the resident set every 20 ms until stopped; returns the peak growth over the start. */
function rssWatch(): () => number {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    return peak - start;
  };
}

/** `total` bytes of one reused 64 KiB block, read as the consumer asks (no allocation per chunk). */
function bytesOf(total: number): Readable {
  const block = Buffer.alloc(64 * 1024, 0x62);
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, block.length);
      left -= size;
      this.push(size === block.length ? block : block.subarray(0, size));
    }
  });
}

beforeAll(async () => {
  idp = await startIdP();
  upstream = await startUpstream(idp);
  broker = await startBroker(idp, { provider: { egress: [`${upstream.origin}/api/`] } });
  expect((await broker.login()).status).toBe(200);
  // Warm every path once (JIT, buffers), so the watch sees the transfer, not the first use.
  await streamRequest(
    broker,
    'GET',
    `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/stream?bytes=${8 << 20}`
  );
});

afterAll(async () => {
  await broker.close();
  await upstream.close();
  await idp.close();
});

describe('a long transfer', () => {
  test("is not cut by node's 5-minute whole-request timeout: the egress's idle deadline bounds it", async () => {
    const running = await listen(createApp(broker.context, broker.key), {
      host: '127.0.0.1',
      port: 0
    });
    try {
      expect(running.server.requestTimeout).toBe(0);
    } finally {
      await running.close();
    }
  });
});

describe('a caller that goes away', () => {
  test('ends the upstream call: the rest of a 1 GiB answer is never read, and the call is audited client_closed', async () => {
    const path = `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/stream?bytes=${GIB}`;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { socketPath: broker.socket, path, headers: { 'x-broker-key': broker.key } },
        res => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > 1 << 20) {
              req.destroy();
              resolve();
            }
          });
        }
      );
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end();
      setTimeout(() => reject(new Error('no answer')), 10000).unref();
    });
    let event: Record<string, unknown> | undefined;
    // The event comes when the broker sees the connection close.
    for (let i = 0; i < 100 && event?.code !== 'client_closed'; i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
      [event] = (await broker.request('GET', '/api/v1/events?limit=1')).json.events;
    }
    expect(event).toMatchObject({ type: 'egress', outcome: 'error', code: 'client_closed' });
    expect(event?.bytes_out as number).toBeLessThan(64 << 20);
  });
});

describe('a caller that goes away mid-upload', () => {
  test('ends the upstream request (it never gets the whole body) and the call is audited client_closed', async () => {
    const before = upstream.uploaded;
    const body = new Readable({ read() {} });
    const req = request({
      socketPath: broker.socket,
      method: 'PUT',
      path: `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/upload`,
      headers: { 'x-broker-key': broker.key, 'content-length': String(64 << 20) }
    });
    req.on('error', () => undefined);
    body.pipe(req);
    body.push(Buffer.alloc(1 << 20));
    await new Promise(resolve => setTimeout(resolve, 200));
    req.destroy();
    let event: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && event?.method !== 'PUT'; i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
      [event] = (await broker.request('GET', '/api/v1/events?limit=1')).json.events;
    }
    expect(event).toMatchObject({ type: 'egress', method: 'PUT', code: 'client_closed' });
    expect(upstream.uploaded).toBe(before);
  });
});

describe('1 GiB through the egress', () => {
  test('a download streams: every byte arrives and the process grows by less than a quarter of it', async () => {
    const watch = rssWatch();
    const started = Date.now();
    const answer = await streamRequest(
      broker,
      'GET',
      `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/stream?bytes=${GIB}`
    );
    const growth = watch();
    const seconds = (Date.now() - started) / 1000;
    console.warn(
      `egress download: 1 GiB in ${seconds.toFixed(1)} s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`
    );
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(true);
    expect(answer.bytes).toBe(GIB);
    expect(growth).toBeLessThan(BOUND);
  }, 120000);

  test('an upload streams: the upstream counts every byte and the process grows by less than a quarter of it', async () => {
    const watch = rssWatch();
    const started = Date.now();
    const answer = await streamRequest(
      broker,
      'PUT',
      `/api/v1/egress/demo/http/127.0.0.1:${upstream.port}/api/upload`,
      {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(GIB) },
        body: bytesOf(GIB)
      }
    );
    const growth = watch();
    const seconds = (Date.now() - started) / 1000;
    console.warn(
      `egress upload: 1 GiB in ${seconds.toFixed(1)} s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`
    );
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.head)).toEqual({ bytes: GIB });
    expect(upstream.uploaded).toBe(GIB);
    expect(growth).toBeLessThan(BOUND);
    const [event] = (await broker.request('GET', '/api/v1/events?limit=1')).json.events;
    expect(event).toMatchObject({ type: 'egress', method: 'PUT', bytes_in: GIB, status: 201 });
  }, 120000);
});
