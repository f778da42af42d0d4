/**
 * `revocable/shared`: the read side against the floor of any design that publishes each access
 * (one `Atomics.add` and one `Atomics.sub` on a word of the thread's own), two threads reading at
 * once against one, the revoke across four threads whose accesses honour the kick, and memory.
 *
 * The worker side of the multi-thread rows is this same file, started in a worker.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import { Revocable } from '../src/index.js';
import { SharedRevocable, type SharedRevocableRef } from '../src/shared/index.js';
import { BIAS, LINE_BYTES, bufferBytes, FAILURE_BYTES } from '../src/shared/internal/layout.js';
import { tsWorker } from '../test/fixtures/shared/worker.js';
import { consume, heapBytesPer, median, printTable, ratio, timeNs, type Row } from './harness.js';

class Sensor {
  value = 1;
  reads = 0;
  read(): number {
    this.reads++;
    return this.value;
  }
}

const N = 2_000_000;
const THREAD_N = 10_000_000;
const read = (sensor: Sensor): number => sensor.read();

type Kind = 'shared' | 'floor' | 'one counter';

interface Job {
  role: 'reader' | 'kicked';
  kind?: Kind;
  ref?: SharedRevocableRef;
  counter?: SharedArrayBuffer;
  start?: SharedArrayBuffer;
}

/** The worker side: one reading loop, timed from the start signal, or kicked accesses forever. */
async function worker(): Promise<void> {
  const port = parentPort as NonNullable<typeof parentPort>;
  port.on('message', (job: Job) => {
    if (job.role === 'reader') {
      const sensor = new Sensor();
      const loop = readLoop(job, sensor);
      loop(THREAD_N / 4); // warm up
      port.postMessage('ready');
      const start = new Int32Array(job.start as SharedArrayBuffer);
      Atomics.wait(start, 0, 0);
      const begin = process.hrtime.bigint();
      const cpu = threadCpuTicks();
      loop(THREAD_N);
      port.postMessage({ wall: Number(process.hrtime.bigint() - begin), cpu: threadCpuTicks() - cpu });
    } else {
      const joined = SharedRevocable.attach(job.ref as SharedRevocableRef, new Sensor());
      const user = async (): Promise<void> => {
        for (;;) {
          const access = joined.tryWith(
            (_sensor, signal) =>
              new Promise<void>((resolve) => {
                // Each access lasts up to 20 ms, or until the kick.
                const timer = setTimeout(resolve, 20);
                signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
              }),
          );
          if (access === undefined) return;
          await access;
        }
      };
      port.postMessage('ready');
      void Promise.all([user(), user()]).then(() => port.postMessage('refused'));
    }
  });
}

/** This thread's CPU time in clock ticks (Linux: utime + stime of /proc/thread-self/stat), or NaN. */
function threadCpuTicks(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

function readLoop(job: Job, sensor: Sensor): (n: number) => void {
  if (job.kind === 'shared') {
    const joined = SharedRevocable.attach(job.ref as SharedRevocableRef, sensor);
    return (n) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += joined.tryWith(read) ?? 0;
      consume(sum);
    };
  }
  // A word of this thread's own (the floor), or one word every thread shares.
  const words = new Int32Array(job.counter as SharedArrayBuffer);
  const index = job.kind === 'floor' ? 16 * (1 + (Number(process.env['SLOT'] ?? 0) | 0)) : 0;
  return (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (Atomics.add(words, index, 1) < 0) continue;
      sum += sensor.read();
      if (Atomics.sub(words, index, 1) === BIAS + 1) consume(words);
    }
    consume(sum);
  };
}

const message = (w: Worker): Promise<unknown> => new Promise((resolve) => w.once('message', resolve));

/**
 * `threads` workers each reading THREAD_N times at once: the slowest one's wall time (ns), and
 * the CPU time (clock ticks) they took in all.
 */
async function together(kind: Kind, threads: number, shared: SharedRevocable<Sensor>, counter: SharedArrayBuffer): Promise<{ wall: number; cpu: number }> {
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, (_, i) => tsWorker(new URL(import.meta.url), undefined, { env: { ...process.env, SLOT: String(i) } }));
  try {
    const readies = workers.map((w) => message(w));
    for (const w of workers) w.postMessage({ role: 'reader', kind, ref: shared.ref, counter, start } satisfies Job);
    await Promise.all(readies);
    const times = workers.map((w) => message(w) as Promise<{ wall: number; cpu: number }>);
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const results = await Promise.all(times);
    return { wall: Math.max(...results.map((r) => r.wall)), cpu: results.reduce((sum, r) => sum + r.cpu, 0) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Throughput of two threads at once over one thread alone (wall time), median of `rounds`; and the
 * CPU time per operation with two threads over one thread's, which leaves out the time spent
 * waiting for a core on a loaded machine and keeps what the threads cost each other when they do
 * run at once (a cache line both write): 1.0 is no interference.
 */
async function scaling(kind: Kind, rounds: number): Promise<{ one: number; two: number; scale: number; cpuCost: number }> {
  const ones: number[] = [];
  const twos: number[] = [];
  const scales: number[] = [];
  const cpuCosts: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const shared = SharedRevocable.create(new Sensor(), { maxThreads: 4 });
    const counter = new SharedArrayBuffer(64 * 4 * 4);
    const one = await together(kind, 1, shared, counter);
    const two = await together(kind, 2, shared, counter);
    ones.push(one.wall / THREAD_N);
    twos.push(two.wall / THREAD_N);
    scales.push((2 * one.wall) / two.wall);
    cpuCosts.push(two.cpu / (2 * one.cpu));
    await shared.revoke();
  }
  return { one: median(ones), two: median(twos), scale: median(scales), cpuCost: median(cpuCosts) };
}

/** Milliseconds from revoke() to its resolution, four threads with kicked accesses in flight. */
async function revokeLatency(rounds: number): Promise<number[]> {
  const workers = Array.from({ length: 4 }, () => tsWorker(new URL(import.meta.url)));
  const times: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const shared = SharedRevocable.create(new Sensor(), { release: () => {} });
      const readies = workers.map((w) => message(w));
      for (const w of workers) w.postMessage({ role: 'kicked', ref: shared.ref } satisfies Job);
      await Promise.all(readies);
      await new Promise((resolve) => setTimeout(resolve, 10)); // accesses are in flight in every thread
      const refused = workers.map((w) => message(w));
      const begin = process.hrtime.bigint();
      await shared.revoke();
      times.push(Number(process.hrtime.bigint() - begin) / 1e6);
      await Promise.all(refused);
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return times.sort((a, b) => a - b);
}

export async function run(): Promise<void> {
  const sensor = new Sensor();
  const shared = SharedRevocable.create(sensor);
  const handle = shared.handle();
  const core = new Revocable(sensor);

  // The floor: the least a design that publishes each access does, on a word of its own.
  const words = new Int32Array(new SharedArrayBuffer(64 * 4));
  const floor = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      if (Atomics.add(words, 16, 1) < 0) continue;
      sum += sensor.read();
      if (Atomics.sub(words, 16, 1) === BIAS + 1) consume(words);
    }
    consume(sum);
  }, N);
  const sharedTryWith = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += shared.tryWith(read) ?? 0;
    consume(sum);
  }, N);
  const handleTryWith = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += handle.tryWith(read) ?? 0;
    consume(sum);
  }, N);
  const tryAccess = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const access = shared.tryAccess();
      if (access === null) continue;
      sum += access.value.read();
      access.release();
    }
    consume(sum);
  }, N);
  const coreTryWith = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += core.tryWith(read) ?? 0;
    consume(sum);
  }, N);

  const perHandle = heapBytesPer((count) => Array.from({ length: count }, () => shared.handle()), 200_000);
  const perCoreHandle = heapBytesPer((count) => Array.from({ length: count }, () => core.handle()), 200_000);
  const slotBytes = (bufferBytes(64) - LINE_BYTES - FAILURE_BYTES) / 64;

  // Two threads scale only if two cores are free: the load is printed beside the figures.
  const load = loadavg()[0] as number;
  const sharedScaling = await scaling('shared', 3);
  const floorScaling = await scaling('floor', 3);
  const counterScaling = await scaling('one counter', 3);
  const latencies = await revokeLatency(40);
  const p = (q: number): number => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] as number;
  const p50 = p(0.5);
  const p99 = p(0.99);

  await shared.revoke();
  await core.revoke();
  const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const rows: Row[] = [
    { name: 'Atomics.add + Atomics.sub, own word (the floor)', value: floor, unit: 'ns', note: 'hand-written, around the same read' },
    { name: 'shared.tryWith, sync', value: sharedTryWith, unit: 'ns', note: `${ratio(sharedTryWith, floor, 1.2)} of the floor` },
    { name: 'handle.tryWith, sync', value: handleTryWith, unit: 'ns', note: `${ratio(handleTryWith, floor, 1.2)} of the floor` },
    { name: 'shared.tryAccess + release', value: tryAccess, unit: 'ns', note: `${ratio(tryAccess, floor)} of the floor` },
    { name: 'core Revocable tryWith, sync (one thread only)', value: coreTryWith, unit: 'ns', note: 'for scale: no atomics' },
    { name: 'shared.tryWith, 1 thread', value: sharedScaling.one, unit: 'ns', note: 'in a worker' },
    { name: 'shared.tryWith, 2 threads at once', value: sharedScaling.two, unit: 'ns', note: `throughput ${sharedScaling.scale.toFixed(2)}x of one thread (target >= 1.8x: ${met(sharedScaling.scale >= 1.8)}); CPU per op ${sharedScaling.cpuCost.toFixed(2)}x of one thread's` },
    { name: 'floor, 2 threads at once', value: floorScaling.two, unit: 'ns', note: `throughput ${floorScaling.scale.toFixed(2)}x of one thread, CPU per op ${floorScaling.cpuCost.toFixed(2)}x (${floorScaling.one.toFixed(1)} ns alone)` },
    { name: 'one shared counter, 2 threads at once', value: counterScaling.two, unit: 'ns', note: `throughput ${counterScaling.scale.toFixed(2)}x of one thread, CPU per op ${counterScaling.cpuCost.toFixed(2)}x (${counterScaling.one.toFixed(1)} ns alone): what a shared read-write lock gets` },
    { name: 'revoke, 4 threads with kicked accesses, p50', value: p50, unit: 'ms', note: `target <= 5 ms: ${met(p50 <= 5)}; ${latencies.length} revokes, kick to release` },
    { name: 'revoke, 4 threads with kicked accesses, p99', value: p99, unit: 'ms', note: `target <= 20 ms: ${met(p99 <= 20)}; max ${(latencies.at(-1) as number).toFixed(2)} ms` },
    { name: 'bytes per thread slot', value: slotBytes, unit: 'bytes', note: `target <= 64: ${met(slotBytes <= 64)} (one cache line; + ${LINE_BYTES} header and ${FAILURE_BYTES} trailer per resource)` },
    { name: 'heap per handle', value: perHandle, unit: 'bytes', note: `the core's: ${perCoreHandle.toFixed(0)} bytes` },
  ];
  printTable('Shared: read side, scaling across threads, revoke across threads', rows);
  console.log(`\n(load average ${load.toFixed(1)} over the last minute, on ${availableParallelism()} cores, when the scaling rows began)`);
}

if (!isMainThread && (workerData as { script?: string } | null)?.script === import.meta.url) await worker();
