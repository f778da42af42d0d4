/**
 * `npm start`: a hot-plug storm you can watch.
 *
 * A bus of simulated serial devices, each backed by a real TCP endpoint on loopback. Consumers open
 * the devices' nodes, read and write, hold files across unplugs and reopen. A chaos loop unplugs and
 * replugs devices two ways: `bus.remove` (an orderly unplug) and killing the endpoint (the cable is
 * yanked; the driver finds out and removes its device). At the end, a verification summary, and an
 * HTML report with the device tree and a timeline. Exit code 1 if any invariant broke.
 *
 * Options: --devices N, --consumers N, --duration SECONDS, --operations N (end after that many,
 * whatever the machine's speed), --seed N, --report PATH, --quiet,
 * --soak CYCLES (the long run: plug/unplug cycles with the heap measured before and after),
 * --workers N (the consumers in N worker threads, against shared devices: demo/shared-storm.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bus, DevFs, Device, describe, describeTree, type DescribedNode } from 'revocable/device';
import { LeakTracker } from 'revocable/testing';
import { Endpoint } from './endpoint.js';
import { progress } from './progress.js';
import { Random, quantile } from './random.js';
import { renderReport, type DeviceTimeline, type TreeNode } from './report.js';
import { formatSummary, summaryRows, type SummaryRow } from './summary.js';
import { ttyDriver, type DriverStats, type Violations } from './tty-driver.js';

export interface StormOptions {
  devices: number;
  consumers: number;
  /** Seconds; the storm ends when they have passed, or after `operations`, whichever comes first. */
  duration: number;
  /**
   * Ends the storm once this many operations were attempted (completed or refused), whatever the
   * machine's speed: the same work on a slow machine and a fast one. Default: no limit.
   */
  operations?: number;
  seed: number;
  report: string | null;
  quiet: boolean;
  /** Where progress and the summary go. */
  out: NodeJS.WriteStream;
}

export interface StormResult {
  ok: boolean;
  completed: number;
  refused: Record<string, number>;
  plugs: number;
  unplugs: { remove: number; kill: number };
  drains: number[];
  leaked: number;
  violations: Violations;
  stats: DriverStats;
  reportPath: string | null;
  summary: SummaryRow[];
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'other';
};

export async function storm(options: StormOptions): Promise<StormResult> {
  const random = new Random(options.seed);
  const tracker = new LeakTracker().start();
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const deadline = options.duration * 1000;
  const limit = options.operations ?? Infinity;
  let attempted = 0;
  /** How far the storm is, from 0 to 1: by time or by operations, whichever is further. */
  const done = (): number => Math.max(now() / deadline, attempted / limit);
  const running = (): boolean => done() < 1;

  const violations: Violations = { useAfterRelease: [], callbackAfterRemove: [], doubleRelease: [] };
  const stats: DriverStats = { interrupts: 0, opens: 0, releases: 0 };
  const refused: Record<string, number> = {};
  const refuse = (code: string): void => void (refused[code] = (refused[code] ?? 0) + 1);
  let completed = 0;
  let plugs = 0;
  const unplugs = { remove: 0, kill: 0 };
  const drains: number[] = [];
  const draining = new Set<string>();

  const devfs = new DevFs();
  const bus = new Bus({ name: 'usb', devfs });
  const names = Array.from({ length: options.devices }, (_, i) => `ttyUSB${i}`);
  const timelines = new Map<string, DeviceTimeline>(names.map((name) => [name, { name, bound: [], drains: [], ops: [], unplugs: [] }]));
  const timeline = (name: string): DeviceTimeline => timelines.get(name) as DeviceTimeline;
  const endpoints = new Map(names.map((name) => [name, new Endpoint(name, { latency: [1, 6], interruptEvery: 20, random: random.fork() })]));
  await Promise.all([...endpoints.values()].map((endpoint) => endpoint.start()));

  const plugged = new Map<string, Device>();
  const boundSince = new Map<Device, number>();
  const removals = new Map<Device, Promise<void>>();
  const pending = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  /** Unbinds and removes `device`, once, recording the drain. */
  const remove = (device: Device): Promise<void> => {
    let removal = removals.get(device);
    if (removal !== undefined) return removal;
    const started = now();
    const since = boundSince.get(device);
    if (since !== undefined) timeline(device.name).bound.push({ from: since, to: started });
    boundSince.delete(device);
    if (plugged.get(device.name) === device) plugged.delete(device.name);
    draining.add(device.name);
    removal = bus.remove(device).then(() => {
      const ended = now();
      draining.delete(device.name);
      drains.push(ended - started);
      timeline(device.name).drains.push({ from: started, to: ended });
    });
    removals.set(device, removal);
    return track(removal);
  };

  const driver = ttyDriver({
    violations,
    stats,
    lost: (device) => void remove(device),
  });
  await bus.register(driver);

  const plug = async (name: string): Promise<void> => {
    const endpoint = endpoints.get(name) as Endpoint;
    endpoint.revive();
    const device = new Device({ name, properties: { kind: 'tty', port: endpoint.port } });
    plugged.set(name, device);
    plugs++;
    await bus.add(device);
    if (device.state === 'bound') boundSince.set(device, now());
    else if (plugged.get(name) === device) {
      // The probe failed (the endpoint died under it): take the device off the bus again.
      await remove(device);
    }
  };

  const unplug = async (name: string, how: 'remove' | 'kill'): Promise<void> => {
    const device = plugged.get(name);
    if (device === undefined) return;
    unplugs[how]++;
    timeline(name).unplugs.push({ at: now(), how });
    if (how === 'kill') {
      plugged.delete(name);
      (endpoints.get(name) as Endpoint).kill(); // the driver notices and removes the device
      // A device killed mid-probe has no bound driver to notice: remove it ourselves.
      await pause(50);
      if (!removals.has(device)) await remove(device);
      else await removals.get(device);
    } else {
      await remove(device);
    }
  };

  for (const name of names) await plug(name);

  const consumer = async (random: Random): Promise<void> => {
    while (running()) {
      const name = random.pick(names);
      let file;
      try {
        file = await devfs.open(`/dev/${name}`);
      } catch (error) {
        attempted++;
        refuse(codeOf(error));
        await pause(random.int(1, 5));
        continue;
      }
      const operations = random.int(1, 8);
      for (let k = 0; k < operations; k++) {
        const kind = random.next() < 0.5 ? 'read' : 'write';
        const from = now();
        attempted++;
        let ok = false;
        try {
          const result = kind === 'read' ? await file.read(8) : await file.write(`hello ${k}`);
          if (kind === 'read' && result === null) refuse('EOF');
          else {
            completed++;
            ok = true;
          }
        } catch (error) {
          refuse(codeOf(error));
        }
        timeline(name).ops.push({ from, to: now(), kind, ok });
        if (random.next() < 0.3) await pause(random.int(5, 40)); // hold the file, maybe across an unplug
      }
      await file.close();
    }
  };

  const chaos = async (random: Random): Promise<void> => {
    while (running()) {
      await pause(random.int(20, 120));
      if (!running()) break;
      const name = random.pick(names);
      if (plugged.has(name)) await unplug(name, random.next() < 0.5 ? 'remove' : 'kill');
      else if (![...removals.keys()].some((d) => d.name === name && draining.has(name))) await plug(name);
    }
  };

  const show = progress(options.out, 1000);
  let snapshot: { tree: DescribedNode; text: string; mermaid: string; when: string } | undefined;
  const status = setInterval(() => {
    // The picture of the tree: the first moment past half-time with a device bound (an unplugged
    // bus is a dull picture).
    if (snapshot === undefined && done() >= 0.5 && [...plugged.values()].some((d) => d.state === 'bound')) {
      snapshot = { tree: describeTree(bus), text: describe(bus), mermaid: describe(bus, { format: 'mermaid' }), when: `mid-storm (${(now() / 1000).toFixed(1)} s)` };
    }
    if (options.quiet) return;
    const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0);
    show.update([
      `storm ${(now() / 1000).toFixed(1)}/${options.duration}s${limit === Infinity ? '' : `  ${attempted}/${limit} operations`}  seed ${options.seed}`,
      `  devices bound ${[...plugged.values()].filter((d) => d.state === 'bound').length}/${names.length}  plugged ${plugs} times, unplugged ${unplugs.remove} by bus.remove and ${unplugs.kill} by killing the device`,
      `  operations ${completed} completed, ${refusedTotal} refused with a defined error (${Object.keys(refused).sort().join(', ') || 'none yet'})  device interrupts handled ${stats.interrupts}`,
      `  unplugs waiting for operations inside: ${draining.size === 0 ? 'none' : [...draining].join(', ')}  done ${drains.length}${drains.length === 0 ? '' : `, last waited ${(drains.at(-1) as number).toFixed(1)} ms, longest ${Math.max(...drains).toFixed(1)} ms`}`,
    ]);
  }, 200);

  const consumers = Array.from({ length: options.consumers }, () => consumer(random.fork()));
  await Promise.all([...consumers, chaos(random.fork())]);
  clearInterval(status);

  // Teardown: unplug what is left, wait for every removal, stop the hardware.
  for (const device of [...plugged.values()]) void remove(device);
  while (pending.size > 0) await Promise.allSettled([...pending]);
  await bus.unregister(driver);
  await Promise.all([...endpoints.values()].map((endpoint) => endpoint.stop()));
  snapshot ??= { tree: describeTree(bus), text: describe(bus), mermaid: describe(bus, { format: 'mermaid' }), when: 'at the end' };

  const leaks = tracker.leaks();
  tracker.stop();
  const duration = now();
  const unreleased = stats.opens - stats.releases;
  const broken = [
    violations.useAfterRelease.length > 0 && `${violations.useAfterRelease.length} uses after release`,
    violations.callbackAfterRemove.length > 0 && `${violations.callbackAfterRemove.length} callbacks after remove()`,
    violations.doubleRelease.length > 0 && `${violations.doubleRelease.length} files released twice`,
    unreleased !== 0 && `${unreleased} open files never released`,
    leaks.length > 0 && `${leaks.length} objects leaked`,
  ].filter((x): x is string => typeof x === 'string');
  const ok = broken.length === 0;
  const summary = summaryRows({
    devices: options.devices,
    consumers: options.consumers,
    seed: options.seed,
    durationMs: duration,
    completed,
    refused,
    interrupts: stats.interrupts,
    plugs,
    unplugs,
    drains: { p50: quantile(drains, 0.5), p99: quantile(drains, 0.99), max: drains.length === 0 ? NaN : Math.max(...drains) },
    opens: stats.opens,
    releases: stats.releases,
    leaked: leaks.length,
    useAfterRelease: violations.useAfterRelease.length,
    callbackAfterRemove: violations.callbackAfterRemove.length,
    doubleRelease: violations.doubleRelease.length,
  });

  let reportPath: string | null = null;
  if (options.report !== null) {
    reportPath = options.report;
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(
      reportPath,
      renderReport({
        title: `revocable hot-plug storm, seed ${options.seed}`,
        summary,
        guide: relative(dirname(resolve(reportPath)), fileURLToPath(new URL('../docs/demo.md', import.meta.url))).split('\\').join('/'),
        verdict: { ok, text: ok ? 'verified: every invariant held' : `FAILED: ${broken.join('; ')}` },
        duration,
        devices: [...timelines.values()],
        tree: toTree(snapshot.tree),
        treeWhen: snapshot.when,
        text: snapshot.text,
        mermaid: snapshot.mermaid,
      }),
    );
  }

  show.done();
  if (!options.quiet) {
    options.out.write(`\n${formatSummary(summary, refused)}`);
    options.out.write(ok ? '\nverified: every invariant held\n' : `\nFAILED: ${broken.join('; ')}\n`);
    for (const leak of leaks.slice(0, 5)) options.out.write(`  leaked ${leak.kind}${leak.name ? ` "${leak.name}"` : ''} created at\n    ${leak.createdAt.split('\n')[0] ?? ''}\n`);
    for (const v of [...violations.useAfterRelease, ...violations.callbackAfterRemove, ...violations.doubleRelease].slice(0, 5)) options.out.write(`  ${v}\n`);
    if (reportPath !== null) options.out.write(`report: ${reportPath} (a timeline of every device)\n`);
    options.out.write('what each line means: docs/demo.md\n');
  }
  return { ok, completed, refused, plugs, unplugs, drains, leaked: leaks.length, violations, stats, reportPath, summary };
}

function toTree(node: DescribedNode): TreeNode {
  return { label: node.label, ...(node.detail === undefined ? {} : { detail: node.detail }), children: node.children.map(toTree) };
}

/** The long run: many plug/unplug cycles with consumers, heap before and after (not in CI). */
export async function soak(cycles: number, consumers: number, out: NodeJS.WriteStream): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = (): number => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const endpoint = new Endpoint('soak', { latency: [0, 0], interruptEvery: 5, random: new Random(1) });
  await endpoint.start();
  const devfs = new DevFs();
  const bus = new Bus({ name: 'soak', devfs });
  const violations: Violations = { useAfterRelease: [], callbackAfterRemove: [], doubleRelease: [] };
  const stats: DriverStats = { interrupts: 0, opens: 0, releases: 0 };
  const driver = ttyDriver({ violations, stats, lost: () => {} });
  await bus.register(driver);
  const cycle = async (i: number): Promise<void> => {
    const device = new Device({ name: 'ttySOAK', properties: { kind: 'tty', port: endpoint.port } });
    await bus.add(device);
    await Promise.all(
      Array.from({ length: consumers }, async (_, c) => {
        try {
          const file = await devfs.open('/dev/ttySOAK');
          await (c % 2 === 0 ? file.read(4) : file.write(`x${i}`)).catch(() => {});
          if (c % 4 === 0) return; // held across the unplug, closed after
          await file.close();
        } catch {
          /* refused safely */
        }
      }),
    );
    await bus.remove(device);
  };
  for (let i = 0; i < 200; i++) await cycle(i); // warm up
  const before = heap();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycle(i);
    if (i % 1000 === 0 && out.isTTY) out.write(`\r  ${i}/${cycles} cycles`);
  }
  const elapsed = performance.now() - started;
  const after = heap();
  await bus.unregister(driver);
  await endpoint.stop();
  const grew = after - before;
  const flat = grew < 5 * 1024 * 1024;
  out.write(
    `\nsoak: ${cycles} plug/unplug cycles with ${consumers} consumers in ${(elapsed / 1000).toFixed(1)} s (Node ${process.version})\n` +
      `  heap before ${(before / 1048576).toFixed(1)} MiB, after ${(after / 1048576).toFixed(1)} MiB, change ${(grew / 1048576).toFixed(2)} MiB: ${flat ? 'flat' : 'GROWING'}\n` +
      `  files opened ${stats.opens}, released ${stats.releases}; uses after release ${violations.useAfterRelease.length}\n`,
  );
  return flat && violations.useAfterRelease.length === 0 && stats.opens === stats.releases;
}

async function main(): Promise<void> {
  // `npm start | head`: a reader that went away is not an error of the storm's.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '6' },
      consumers: { type: 'string', default: '16' },
      duration: { type: 'string', default: '8' },
      operations: { type: 'string' },
      seed: { type: 'string', default: '1' },
      report: { type: 'string', default: 'report/storm.html' },
      quiet: { type: 'boolean', default: false },
      soak: { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('npm start -- [--devices 6] [--consumers 16] [--duration 8] [--operations N] [--seed 1] [--report report/storm.html] [--quiet] [--soak CYCLES] [--workers N]\n');
    return;
  }
  const number = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} must be a number >= ${min}, got ${value}`);
    return n;
  };
  if (values.workers !== undefined) {
    // The consumers in worker threads, against shared device resources (demo/shared-storm.ts).
    const { sharedStorm } = await import('./shared-storm.js');
    const result = await sharedStorm({
      workers: number('workers', values.workers, 1),
      devices: number('devices', values.devices, 1),
      consumers: number('consumers', values.consumers, 1),
      duration: number('duration', values.duration, 0.1),
      seed: number('seed', values.seed, 0),
      quiet: values.quiet,
      out: process.stdout,
    });
    process.exitCode = result.ok ? 0 : 1;
    return;
  }
  if (values.soak !== undefined) {
    const ok = await soak(number('soak', values.soak, 1), number('consumers', values.consumers, 1), process.stdout);
    process.exitCode = ok ? 0 : 1;
    return;
  }
  const result = await storm({
    devices: number('devices', values.devices, 1),
    consumers: number('consumers', values.consumers, 0),
    duration: number('duration', values.duration, 0.1),
    ...(values.operations === undefined ? {} : { operations: number('operations', values.operations, 1) }),
    seed: number('seed', values.seed, 0),
    report: values.report === '' ? null : values.report,
    quiet: values.quiet,
    out: process.stdout,
  });
  process.exitCode = result.ok ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
