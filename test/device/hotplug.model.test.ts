/**
 * Model-based test of the driver model: fast-check's scheduler interleaves random plugs, unplugs,
 * driver registrations and unregistrations, opens, reads, writes, closes, revokes and interrupts
 * across several devices, while drivers probe, handle interrupts and serve file operations across
 * `await`s. After every step: no file operation or callback reaches a driver after its data was
 * released, no handler starts after unbind began, no file is released twice, and every scope
 * releases newest-first. At the end, every file that was opened was released exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bus, Device, DeviceError, DevFs, type DeviceFile, type Driver, type OpenFile } from '../../src/device/index.js';
import '../support/leaks.js';
import { checkEveryStep, checkedScheduler as scheduler, runs } from '../support/model.js';

const NAMES = ['d0', 'd1', 'd2'] as const;
const KINDS = ['a', 'b'] as const;

type Action =
  | { type: 'plug'; device: number; kind: number }
  | { type: 'unplug'; device: number }
  | { type: 'register'; kind: number }
  | { type: 'unregister'; kind: number }
  | { type: 'open'; device: number }
  | { type: 'read'; file: number }
  | { type: 'write'; file: number }
  | { type: 'close'; file: number }
  | { type: 'revoke'; device: number }
  | { type: 'interrupt'; device: number };

const device = fc.nat({ max: NAMES.length - 1 });
const kind = fc.nat({ max: KINDS.length - 1 });
const file = fc.nat({ max: 7 });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ type: fc.constant('plug' as const), device, kind }),
  fc.record({ type: fc.constant('unplug' as const), device }),
  fc.record({ type: fc.constant('register' as const), kind }),
  fc.record({ type: fc.constant('unregister' as const), kind }),
  { arbitrary: fc.record({ type: fc.constant('open' as const), device }), weight: 3 },
  { arbitrary: fc.record({ type: fc.constant('read' as const), file }), weight: 3 },
  { arbitrary: fc.record({ type: fc.constant('write' as const), file }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('close' as const), file }), weight: 2 },
  fc.record({ type: fc.constant('revoke' as const), device }),
  { arbitrary: fc.record({ type: fc.constant('interrupt' as const), device }), weight: 2 },
);

/** What the model knows of one binding (one successful or failed probe). */
interface BindingModel {
  readonly label: string;
  /** Driver data: valid until the managed release frees it. */
  alive: boolean;
  unbindBegun: boolean;
  readonly acquired: string[];
  readonly released: string[];
  callbacksInFlight: number;
  operationsInFlight: number;
  readonly files: FileModel[];
}
interface FileModel {
  readonly id: number;
  releases: number;
}


describe('the driver model under every interleaving the scheduler finds', () => {
  it('never reaches a driver after its release, releases every open file once and every scope newest-first', async () => {
    await fc.assert(
      fc.asyncProperty(
        scheduler,
        fc.array(action, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat({ max: 4 }).map((n) => n === 0), { minLength: NAMES.length * KINDS.length, maxLength: NAMES.length * KINDS.length }),
        fc.array(kind, { minLength: NAMES.length, maxLength: NAMES.length }),
        fc.nat({ max: 4 }),
        async (s, actions, failProbe, initialKinds, initialOpens) => {
          const violations: string[] = [];
          const fail = (message: string): void => void violations.push(message);
          const bindings: BindingModel[] = [];
          const files: FileModel[] = [];
          const irqs = NAMES.map(() => new EventTarget());
          const devfs = new DevFs();
          const bus = new Bus({ name: 'model', devfs });
          let bindingCount = 0;
          const current = new WeakMap<Device, BindingModel>();

          const makeDriver = (k: number): Driver => ({
            name: KINDS[k] as string,
            match: (d) => d.properties.kind === KINDS[k],
            async probe(d) {
              const index = NAMES.indexOf(d.name as (typeof NAMES)[number]);
              const b: BindingModel = {
                label: `${d.name}/${KINDS[k]}#${bindingCount++}`,
                alive: true,
                unbindBegun: false,
                acquired: [],
                released: [],
                callbacksInFlight: 0,
                operationsInFlight: 0,
                files: [],
              };
              bindings.push(b);
              current.set(d, b);
              const acquire = (label: string): void => {
                b.acquired.push(label);
                d.managed.add(label, (l) => void b.released.push(l));
              };
              d.managed.defer(() => {
                b.alive = false; // the driver data is freed: the oldest managed resource
                b.released.push('data');
              });
              b.acquired.push('data');
              d.managed.abortController().signal.addEventListener('abort', () => void (b.unbindBegun = true));
              await s.schedule(Promise.resolve(), `probe ${b.label} acquires`);
              d.managed.listener(irqs[index] as EventTarget, 'irq', async () => {
                if (b.unbindBegun) fail(`${b.label}: interrupt handler started after unbind began`);
                if (!b.alive) fail(`${b.label}: interrupt handler reached freed data`);
                b.callbacksInFlight++;
                await s.schedule(Promise.resolve(), `${b.label} irq handler`);
                if (!b.alive) fail(`${b.label}: interrupt handler reached freed data after an await`);
                b.callbacksInFlight--;
              });
              acquire('irq');
              const enter = (f: DeviceFile, what: string): void => {
                if (!b.alive) fail(`${b.label}: ${what} reached freed data`);
                if (f.signal.aborted) fail(`${b.label}: ${what} started after its file was revoked or closed`);
              };
              d.managed.node(`/dev/${d.name}`, {
                open(f) {
                  enter(f, 'open');
                  const model: FileModel = { id: files.length, releases: 0 };
                  files.push(model);
                  b.files.push(model);
                  f.private = model;
                },
                async read(f) {
                  enter(f, 'read');
                  b.operationsInFlight++;
                  try {
                    await new Promise<void>((resolve, reject) => {
                      f.signal.addEventListener('abort', () => reject(f.signal.reason), { once: true });
                      s.schedule(Promise.resolve(), `${b.label} read`).then(resolve, reject);
                    });
                    return 'data';
                  } finally {
                    if (!b.alive) fail(`${b.label}: read reached freed data after an await`);
                    b.operationsInFlight--;
                  }
                },
                write(f, data) {
                  enter(f, 'write');
                  return (data as string).length;
                },
                release(f) {
                  if (!b.alive) fail(`${b.label}: release ran after the driver data was freed`);
                  const model = f.private as FileModel;
                  model.releases++;
                  if (model.id % 2 === 0) return;
                  // Every other file releases across an await: the driver data must stay valid throughout.
                  return s.schedule(Promise.resolve(), `${b.label} release ${model.id}`).then(() => {
                    if (!b.alive) fail(`${b.label}: release reached freed data after an await`);
                  });
                },
              });
              acquire('node');
              await s.schedule(Promise.resolve(), `probe ${b.label} finishes`);
              if (failProbe[index * KINDS.length + k] === true) throw new Error(`probe ${b.label} failed`);
            },
            remove(d) {
              const b = current.get(d);
              if (b === undefined || !b.alive || !b.unbindBegun) return fail(`remove() of ${d.name} without a binding being unbound`);
              if (b.callbacksInFlight !== 0) fail(`${b.label}: remove() with an interrupt handler in flight`);
              if (b.operationsInFlight !== 0) fail(`${b.label}: remove() with a file operation in flight`);
              for (const f of b.files) if (f.releases !== 1) fail(`${b.label}: remove() before file ${f.id} was released`);
            },
          });
          const drivers = KINDS.map((_, k) => makeDriver(k));
          const registered = new Set<Driver>();
          const devices = new Map<string, Device>();
          const opened: OpenFile[] = [];

          const check = (): void => {
            for (const f of files) if (f.releases > 1) fail(`file ${f.id} released ${f.releases} times`);
            for (const b of bindings) {
              const expected = [...b.acquired].reverse();
              if (!b.released.every((label, i) => label === expected[i])) fail(`${b.label}: released ${b.released} for acquired ${b.acquired}`);
            }
            assert.deepEqual(violations, []);
          };
          checkEveryStep(check);

          const expectCodes = (codes: string[]) => (error: unknown) => {
            if (!(error instanceof DeviceError) || !codes.includes(error.code)) throw error;
          };

          const run = async (a: Action): Promise<void> => {
            switch (a.type) {
              case 'plug': {
                const name = NAMES[a.device] as string;
                const current = devices.get(name);
                if (current !== undefined && current.bus !== null) return;
                const d = new Device({ name, properties: { kind: KINDS[a.kind] } });
                devices.set(name, d);
                return bus.add(d);
              }
              case 'unplug': {
                const d = devices.get(NAMES[a.device] as string);
                if (d === undefined || d.bus === null) return;
                return bus.remove(d);
              }
              case 'register': {
                const driver = drivers[a.kind] as Driver;
                if (registered.has(driver)) return;
                registered.add(driver);
                return bus.register(driver);
              }
              case 'unregister': {
                const driver = drivers[a.kind] as Driver;
                if (!registered.delete(driver)) return;
                return bus.unregister(driver);
              }
              case 'open':
                return devfs.open(`/dev/${NAMES[a.device]}`).then((f) => void opened.push(f), expectCodes(['ENOENT', 'ENODEV']));
              case 'read': {
                const f = opened[a.file % Math.max(1, opened.length)];
                if (f === undefined) return;
                return f.read().then((value) => {
                  if (value !== 'data' && value !== null) fail(`read resolved ${String(value)}`);
                }, expectCodes(['EBADF']));
              }
              case 'write': {
                const f = opened[a.file % Math.max(1, opened.length)];
                if (f === undefined) return;
                return f.write('abc').then((n) => {
                  if (n !== 3) fail(`write resolved ${String(n)}`);
                }, expectCodes(['EIO', 'EBADF']));
              }
              case 'close':
                return opened[a.file % Math.max(1, opened.length)]?.close();
              case 'revoke':
                return devfs.revoke(`/dev/${NAMES[a.device]}`).then(() => {}, expectCodes(['ENOENT']));
              case 'interrupt':
                irqs[a.device]?.dispatchEvent(new Event('irq'));
                return;
            }
          };

          // A start worth disturbing: every driver registered, every device plugged, files open.
          const start = (async () => {
            for (const k of KINDS.keys()) await run({ type: 'register', kind: k });
            await Promise.all(NAMES.map((_, d) => run({ type: 'plug', device: d, kind: initialKinds[d] as number })));
            for (let i = 0; i < initialOpens; i++) await run({ type: 'open', device: i % NAMES.length });
          })();
          await s.waitFor(start);

          const tasks = actions.map((a, i) => s.schedule(Promise.resolve(), `${i}: ${JSON.stringify(a)}`).then(() => run(a)));
          await s.waitFor(Promise.all(tasks));
          await s.waitIdle();

          // Tear everything down, then check the end state.
          const teardown = Promise.all([
            ...opened.map((f) => f.close()),
            ...[...devices.values()].filter((d) => d.bus !== null).map((d) => bus.remove(d)),
          ]).then(() => Promise.all([...registered].map((driver) => bus.unregister(driver))));
          await s.waitFor(teardown);
          await s.waitIdle();
          check();
          for (const f of files) assert.equal(f.releases, 1, `file ${f.id} released exactly once`);
          for (const b of bindings) {
            assert.equal(b.alive, false, `${b.label}: the driver data was released`);
            assert.deepEqual(b.released, [...b.acquired].reverse(), `${b.label}: released newest-first`);
          }
          assert.deepEqual(devfs.paths(), []);
          assert.deepEqual(bus.devices, []);
          for (const f of opened) assert.notEqual(f.state, 'open');
          (globalThis as { stats?: number[] }).stats?.push(bindings.length, files.length, opened.length);
        },
      ),
      { numRuns: runs },
    );
  });
});
