/**
 * A region of shared memory, revoked across worker threads.
 *
 * The main thread lends a region of a `SharedArrayBuffer` to three workers, which fill it with
 * samples, each write a few steps apart with an `await` between. Then it takes the region back to
 * reuse it for something else: `revoke()` kicks every worker, waits until the last write in any
 * thread has ended, and only then does the release (in the main thread) recycle the region. A
 * write landing after the recycling would corrupt whatever uses the region next; the recycling
 * stamps the region, and each worker checks after every write that it has not been stamped.
 *
 * Run: node --import tsx examples/shared-region.ts
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SharedRevocable, type SharedRevocableRef } from 'revocable/shared';

const RECYCLED = -1;
// One clock for every thread: each has its own `performance.now()` origin.
const now = (): number => performance.timeOrigin + performance.now();
const t0: number = isMainThread ? now() : (workerData as { start: number }).start;
const log = (who: string, text: string): void => console.log(`${(now() - t0).toFixed(0).padStart(4)} ms  ${who}: ${text}`);

interface Lent {
  start: number;
  ref: SharedRevocableRef;
  memory: SharedArrayBuffer;
  worker: number;
}

async function worker({ ref, memory, worker: id }: Lent): Promise<void> {
  const region = new Float64Array(memory, 0, 64); // this thread's own view of the region
  const lent = SharedRevocable.attach(ref, region);
  let writes = 0;
  for (;;) {
    const batch = lent.tryWith(async (view, signal) => {
      for (let i = 0; i < 8 && !signal.aborted; i++) {
        view[id * 16 + i] = id + i / 10;
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (view[63] === RECYCLED) throw new Error(`worker ${id} wrote into a recycled region`);
      }
    });
    if (batch === undefined) break; // the region was taken back
    await batch;
  }
  log(`worker ${id}`, `refused: the region was taken back after ${writes} writes, none after the recycling`);
  parentPort?.postMessage('done');
}

async function main(): Promise<void> {
  const memory = new SharedArrayBuffer(64 * 8);
  const region = new Float64Array(memory, 0, 64);
  const lent = SharedRevocable.create(region, {
    name: 'sample region',
    release: (view) => {
      view.fill(0);
      view[63] = RECYCLED;
      log('main    ', 'region recycled');
    },
  });
  // The workers run this same file: a worker does not inherit the tsx loader, so it registers it.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const workers = [1, 2, 3].map((id) => new Worker(boot, { eval: true, workerData: { start: t0, ref: lent.ref, memory, worker: id } satisfies Lent }));
  const done = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
  while (lent.accesses < 3) await new Promise((resolve) => setTimeout(resolve, 5)); // every worker is writing
  log('main    ', `taking the region back; ${lent.accesses} writes in flight`);
  const first = await lent.revoke();
  log('main    ', `revoke resolved ${first}; state is '${lent.state}'`);
  await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
}

if (isMainThread) await main();
else await worker(workerData as Lent);
