/**
 * `npm start -- --workers N`: the hot-plug storm with its consumers in N worker threads.
 *
 * The main thread runs the bus, the driver and the simulated hardware as `npm start` does, and owns
 * one `SharedRevocable` per bound device; the consumers live in workers (demo/shared-consumer.ts),
 * each attached with a TCP connection of its own to the device's endpoint. Every unplug (an orderly
 * `bus.remove`, or the endpoint killed under the driver) revokes the shared device first: every
 * worker's accesses are kicked and drained, then the release in the main thread clears the device's
 * "alive" word, then the device is unbound. Verified at the end: no access in any thread saw the
 * alive word cleared, every revoke finished, each shared device released once.
 */
import { Worker } from 'node:worker_threads';
import { Bus, DevFs, Device } from 'revocable/device';
import { manageWorker, type ManagedWorker } from 'revocable/node';
import { SharedRevocable } from 'revocable/shared';
import { Endpoint } from './endpoint.js';
import { progress } from './progress.js';
import { Random, quantile } from './random.js';
import type { ConsumerReport, Plug } from './shared-consumer.js';
import { ttyDriver, type DriverStats, type Violations } from './tty-driver.js';

export interface SharedStormOptions {
  workers: number;
  devices: number;
  /** Consumers in each worker. */
  consumers: number;
  /** Seconds of chaos, counted from when the workers are up and the devices plugged. */
  duration: number;
  /**
   * Ends the chaos after this many plug or unplug steps instead, whatever the machine's speed: the
   * same work on a slow machine and a fast one (the tests use it). Default: by `duration` only.
   */
  steps?: number;
  seed: number;
  quiet: boolean;
  out: NodeJS.WriteStream;
}

export interface SharedStormResult {
  ok: boolean;
  completed: number;
  plugs: number;
  unplugs: { remove: number; kill: number };
  /** Milliseconds of each shared revoke, kick to release, across every worker. */
  drains: number[];
  created: number;
  released: number;
  usesAfterRelease: string[];
  violations: Violations;
  summary: [string, string][];
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker running demo/shared-consumer.ts (through tsx, which workers do not inherit). */
function consumerWorker(consumers: number, seed: number): Worker {
  const script = new URL('./shared-consumer.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(boot, { eval: true, workerData: { consumers, seed } });
}

export async function sharedStorm(options: SharedStormOptions): Promise<SharedStormResult> {
  const random = new Random(options.seed);
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const deadline = options.duration * 1000;
  const violations: Violations = { useAfterRelease: [], callbackAfterRemove: [], doubleRelease: [] };
  const stats: DriverStats = { interrupts: 0, opens: 0, releases: 0 };
  let plugs = 0;
  const unplugs = { remove: 0, kill: 0 };
  const drains: number[] = [];
  let created = 0;
  let released = 0;
  const revokeFailures: string[] = [];

  const workers: ManagedWorker[] = [];
  for (let i = 0; i < options.workers; i++) {
    const worker = consumerWorker(options.consumers, Math.floor(random.next() * 2 ** 32));
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // Managed: should a worker exit, its slots are reclaimed and no revoke waits for it.
    workers.push(manageWorker(worker, { name: `consumers ${i}` }));
  }

  const devfs = new DevFs();
  const bus = new Bus({ name: 'usb', devfs });
  const names = Array.from({ length: options.devices }, (_, i) => `ttyUSB${i}`);
  const endpoints = new Map(names.map((name) => [name, new Endpoint(name, { latency: [1, 6], interruptEvery: 20, random: random.fork() })]));
  await Promise.all([...endpoints.values()].map((endpoint) => endpoint.start()));

  const plugged = new Map<string, Device>();
  const sharedOf = new Map<Device, SharedRevocable<{ name: string }>>();
  const removals = new Map<Device, Promise<void>>();
  const pending = new Set<Promise<void>>();
  const draining = new Set<string>();

  /** Revokes the shared device in every worker, then unbinds it; once per device. */
  const remove = (device: Device): Promise<void> => {
    let removal = removals.get(device);
    if (removal !== undefined) return removal;
    if (plugged.get(device.name) === device) plugged.delete(device.name);
    const shared = sharedOf.get(device);
    const started = now();
    removal = (shared === undefined ? Promise.resolve(false) : shared.revoke())
      .then(
        () => void (shared !== undefined && drains.push(now() - started)),
        (error: unknown) => void revokeFailures.push(`${device.name}: ${String(error)}`),
      )
      .then(() => bus.remove(device));
    removals.set(device, removal);
    draining.add(device.name);
    pending.add(removal);
    void removal.finally(() => {
      pending.delete(removal as Promise<void>);
      draining.delete(device.name);
    });
    return removal;
  };

  const driver = ttyDriver({ violations, stats, lost: (device) => void remove(device) });
  await bus.register(driver);

  const plug = async (name: string): Promise<void> => {
    const endpoint = endpoints.get(name) as Endpoint;
    endpoint.revive();
    const device = new Device({ name, properties: { kind: 'tty', port: endpoint.port } });
    plugged.set(name, device);
    plugs++;
    await bus.add(device);
    if (device.state !== 'bound' || plugged.get(name) !== device) {
      await remove(device);
      return;
    }
    const alive = new Int32Array(new SharedArrayBuffer(4));
    Atomics.store(alive, 0, 1);
    const shared = SharedRevocable.create({ name }, {
      name,
      maxThreads: options.workers + 1,
      release: () => {
        released++;
        Atomics.store(alive, 0, 0);
      },
    });
    created++;
    sharedOf.set(device, shared);
    // Tied to the binding as well: should the device be unbound some other way, it is revoked then.
    device.managed.use(shared);
    const message: Plug = { type: 'plug', name, ref: shared.ref, port: endpoint.port, alive: alive.buffer };
    for (const worker of workers) worker.tryWith((w) => w.postMessage(message));
  };

  const unplug = async (name: string, how: 'remove' | 'kill'): Promise<void> => {
    const device = plugged.get(name);
    if (device === undefined) return;
    unplugs[how]++;
    if (how === 'kill') {
      plugged.delete(name);
      (endpoints.get(name) as Endpoint).kill(); // the driver notices and removes the device
      await pause(50);
      await remove(device);
    } else {
      await remove(device);
    }
  };

  for (const name of names) await plug(name);

  // The clock of the chaos starts now: starting the workers (each loads tsx) can take seconds on a
  // loaded machine, and must not eat the storm's time.
  const end = now() + deadline;
  const limit = options.steps ?? Infinity;
  let steps = 0;
  const running = (): boolean => (limit === Infinity ? now() < end : steps < limit);
  const chaos = async (random: Random): Promise<void> => {
    while (running()) {
      await pause(random.int(20, 120));
      if (!running()) break;
      steps++;
      const name = random.pick(names);
      if (plugged.has(name)) await unplug(name, random.next() < 0.5 ? 'remove' : 'kill');
      else if (!draining.has(name)) await plug(name);
    }
  };

  const show = progress(options.out, 1000);
  if (!options.quiet) options.out.write(`storm with ${options.workers} worker threads, ${options.devices} devices, ${options.consumers} consumers each, seed ${options.seed}\n`);
  const status = setInterval(() => {
    if (options.quiet) return;
    show.update([
      `storm with ${options.workers} worker threads ${(now() / 1000).toFixed(1)}/${options.duration}s  seed ${options.seed}`,
      `  devices bound ${[...plugged.values()].filter((d) => d.state === 'bound').length}/${names.length}  plugs ${plugs}  unplugs ${unplugs.remove} removed, ${unplugs.kill} killed`,
      `  shared devices created ${created}, released ${released}  revokes done ${drains.length}${drains.length === 0 ? '' : `, last ${(drains.at(-1) as number).toFixed(1)} ms`}`,
    ]);
  }, 200);

  await chaos(random.fork());
  clearInterval(status);

  // The consumers stop and report; then every device still plugged is unplugged.
  const reports = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<ConsumerReport>((resolve) => {
          worker.tryWith((w) => {
            w.once('message', (message: { report: ConsumerReport }) => resolve(message.report));
            w.postMessage({ type: 'stop' });
          });
        }),
    ),
  );
  for (const device of [...plugged.values()]) void remove(device);
  while (pending.size > 0) await Promise.allSettled([...pending]);
  await Promise.all(workers.map((worker) => worker.revoke()));
  await bus.unregister(driver);
  await Promise.all([...endpoints.values()].map((endpoint) => endpoint.stop()));

  const completed = reports.reduce((sum, r) => sum + r.completed, 0);
  const usesAfterRelease = reports.flatMap((r) => r.usesAfterRelease);
  const refused: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.refused)) refused[code] = (refused[code] ?? 0) + n;
  const broken = [
    usesAfterRelease.length > 0 && `${usesAfterRelease.length} uses after release in the workers`,
    violations.useAfterRelease.length > 0 && `${violations.useAfterRelease.length} uses after release in the driver`,
    violations.callbackAfterRemove.length > 0 && `${violations.callbackAfterRemove.length} callbacks after remove()`,
    revokeFailures.length > 0 && `${revokeFailures.length} revokes failed`,
    released !== created && `${created} shared devices created, ${released} released`,
    drains.length !== created && `${created} shared devices, ${drains.length} revokes done`,
  ].filter((x): x is string => typeof x === 'string');
  const ok = broken.length === 0;
  const ms = (value: number): string => (Number.isNaN(value) ? '-' : `${value.toFixed(1)} ms`);
  const summary: [string, string][] = [
    ['workers, devices, consumers, seed', `${options.workers}, ${options.devices}, ${options.workers} x ${options.consumers}, ${options.seed}`],
    ['duration', `${(now() / 1000).toFixed(1)} s`],
    ['operations completed', String(completed)],
    ['operations refused safely', Object.entries(refused).sort().map(([code, n]) => `${n} ${code}`).join(', ') || '0'],
    ['plugs', String(plugs)],
    ['unplugs', `${unplugs.remove + unplugs.kill} (${unplugs.remove} by bus.remove, ${unplugs.kill} by killing the endpoint)`],
    ['shared devices created / released', `${created} / ${released}`],
    ['revokes done', `${drains.length} of ${created}`],
    ['revoke time p50 / p99 / max', `${ms(quantile(drains, 0.5))} / ${ms(quantile(drains, 0.99))} / ${ms(drains.length === 0 ? NaN : Math.max(...drains))}`],
    ['uses after release', String(usesAfterRelease.length + violations.useAfterRelease.length)],
    ['callbacks after remove()', String(violations.callbackAfterRemove.length)],
  ];
  show.done();
  if (!options.quiet) {
    const width = Math.max(...summary.map(([k]) => k.length));
    options.out.write(`\n${summary.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    options.out.write(ok ? '\nverified: every invariant held\n' : `\nFAILED: ${broken.join('; ')}\n`);
    for (const v of [...usesAfterRelease, ...revokeFailures].slice(0, 5)) options.out.write(`  ${v}\n`);
  }
  return { ok, completed, plugs, unplugs, drains, created, released, usesAfterRelease, violations, summary };
}
