/**
 * The driver model: hot-plug and unplug, driver registration, probe in a devres group, deferred
 * probes, the unbind order, the per-device queue, references that outlive the device, events and
 * argument checks.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, mock } from 'node:test';
import { Bus, Device, DeviceError, DevFs, ProbeDeferError, type DeviceEvent, type DeviceScope, type Driver } from '../../src/device/index.js';
import { DrainTimeoutError, ResourceScope, RevokedError, type RevocableHandle } from '../../src/index.js';
import { deferred, flushMicrotasks, state } from '../support/deferred.js';
import { addManagedListener } from '../../src/node/index.js';
import '../support/leaks.js';

const code = (expected: string) => (error: unknown): boolean => error instanceof DeviceError && error.code === expected;

/** A driver matching `kind`, logging what it does into `log`. */
function driver(name: string, log: string[], overrides: Partial<Driver> = {}): Driver {
  return {
    name,
    match: (device) => device.properties.kind === name,
    probe(device) {
      log.push(`probe ${device.name}`);
    },
    remove(device) {
      log.push(`remove ${device.name}`);
    },
    ...overrides,
  };
}

function events(target: EventTarget, log: string[]): void {
  for (const type of ['bound', 'unbound', 'removed', 'probe-error', 'probe-deferred']) {
    target.addEventListener(type, (event) => log.push(`${type} ${(event as DeviceEvent).device.name}`));
  }
}

describe('Bus: hot-plug and drivers', () => {
  it('add matches a registered driver and probes; remove unbinds and removes', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    events(bus, log);
    await bus.register(driver('sensor', log));
    const device = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
    await bus.add(device);
    assert.equal(device.state, 'bound');
    assert.equal(device.driver?.name, 'sensor');
    assert.equal(device.bus, bus);
    assert.deepEqual(bus.devices, [device]);
    await bus.remove(device);
    assert.equal(device.state, 'removed');
    assert.equal(device.driver, null);
    assert.equal(device.bus, null);
    assert.deepEqual(bus.devices, []);
    assert.deepEqual(log, ['probe sensor0', 'bound sensor0', 'remove sensor0', 'unbound sensor0', 'removed sensor0']);
  });

  it('register binds the devices already there; unregister unbinds them and leaves them unbound', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const a = new Device({ name: 'a', properties: { kind: 'sensor' } });
    const b = new Device({ name: 'b', properties: { kind: 'other' } });
    await bus.add(a);
    await bus.add(b);
    assert.equal(a.state, 'unbound');
    const sensor = driver('sensor', log);
    await bus.register(sensor);
    assert.deepEqual([a.state, b.state], ['bound', 'unbound']);
    await bus.unregister(sensor);
    assert.deepEqual([a.state, b.state], ['unbound', 'unbound']);
    assert.deepEqual(bus.devices, [a, b]);
    assert.deepEqual(log, ['probe a', 'remove a']);
    const other = driver('other', log);
    await bus.register(other);
    assert.equal(b.state, 'bound');
    await bus.remove(a);
    await bus.remove(b);
  });

  it('gives each binding a fresh managed scope, so a device unbound by unregister binds cleanly to another driver', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const scopes: DeviceScope[] = [];
    const first = driver('first', log, {
      match: () => true,
      probe: (device) => {
        scopes.push(device.managed);
        device.managed.defer(() => void log.push('first released'));
      },
    });
    const second = driver('second', log, { match: () => true, probe: (device) => void scopes.push(device.managed) });
    await bus.register(first);
    const device = new Device({ name: 'd' });
    await bus.add(device);
    await bus.unregister(first);
    await bus.register(second);
    assert.equal(device.driver, second);
    assert.equal(scopes.length, 2);
    assert.notEqual(scopes[0], scopes[1]);
    assert.ok(scopes[0] instanceof ResourceScope);
    assert.equal(scopes[0]?.disposed, true);
    assert.equal(scopes[1]?.disposed, false);
    assert.deepEqual(log, ['remove d', 'first released']);
    await bus.remove(device);
  });

  it('tries the next matching driver when a probe fails', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    await bus.register(driver('broken', log, { match: () => true, probe: () => Promise.reject(new Error('no')) }));
    await bus.register(driver('working', log, { match: () => true }));
    const device = new Device({ name: 'd' });
    await bus.add(device);
    assert.equal(device.driver?.name, 'working');
    assert.equal(device.probeError, undefined);
    await bus.remove(device);
  });

  it('rejects EBUSY, EEXIST, ENODEV and ENOENT for impossible operations, changing nothing', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const other = new Bus({ name: 'pci' });
    const sensor = driver('sensor', log);
    await bus.register(sensor);
    await assert.rejects(bus.register(sensor), code('EBUSY'));
    await assert.rejects(bus.register(driver('sensor', log)), code('EEXIST'));
    await assert.rejects(bus.unregister(driver('x', log)), code('ENOENT'));
    const device = new Device({ name: 'd' });
    await bus.add(device);
    await assert.rejects(bus.add(device), code('EBUSY'));
    await assert.rejects(other.add(device), code('EBUSY'));
    await assert.rejects(bus.add(new Device({ name: 'd' })), code('EEXIST'));
    await assert.rejects(other.remove(device), code('ENODEV'));
    await bus.remove(device);
    await assert.rejects(bus.add(device), code('ENODEV'));
    assert.deepEqual(bus.devices, []);
    assert.deepEqual(bus.drivers, [sensor]);
  });

  it('remove is idempotent: a second call returns the same removal', async () => {
    const bus = new Bus({ name: 'usb' });
    const device = new Device({ name: 'd' });
    await bus.add(device);
    const first = bus.remove(device);
    const second = bus.remove(device);
    await Promise.all([first, second]);
    await bus.remove(device);
    assert.equal(device.state, 'removed');
  });

  it('removes children before their parent', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    events(bus, log);
    const hub = new Device({ name: 'hub' });
    const port1 = new Device({ name: 'port1', parent: hub });
    const port2 = new Device({ name: 'port2', parent: hub });
    await bus.add(hub);
    await bus.add(port1);
    await bus.add(port2);
    assert.deepEqual(hub.children, [port1, port2]);
    await bus.remove(hub);
    assert.deepEqual(log, ['removed port2', 'removed port1', 'removed hub']);
    await assert.rejects(bus.add(new Device({ name: 'port3', parent: hub })), code('ENODEV'));
  });

  it('validates its arguments with TypeErrors that say what was expected', async () => {
    assert.throws(() => new Bus(undefined as never), /Expected `options` to be an object of options/);
    assert.throws(() => new Bus({ name: '' }), /Expected `options.name` to be a non-empty string/);
    assert.throws(() => new Bus({ name: 'x', devfs: {} as never }), /Expected `options.devfs` to be a DevFs/);
    assert.throws(() => new Bus({ name: 'x', timeout: -5 }), RangeError);
    assert.throws(() => new Device({ name: 5 } as never), /Expected `options.name` to be a non-empty string, got `5` \(number\)/);
    assert.throws(() => new Device({ name: 'd', parent: {} as never }), /Expected `options.parent` to be a Device/);
    assert.throws(() => new Device({ name: 'd', release: 1 as never }), TypeError);
    const bus = new Bus({ name: 'usb' });
    assert.throws(() => bus.register({ name: 'x', match: () => true } as never), /Expected `driver.probe` to be a function, got `undefined`/);
    assert.throws(() => bus.register(null as never), TypeError);
    assert.throws(() => bus.add({ name: 'fake' } as never), /Expected `device` to be a Device/);
    const device = new Device({ name: 'd' });
    await bus.add(device);
    assert.throws(() => bus.remove(device, { timeout: Number.NaN }), RangeError);
    assert.equal(device.state, 'unbound');
    assert.deepEqual(bus.drivers, []);
    await bus.remove(device);
  });
});

describe('Bus: probe', () => {
  it('a failing probe releases what it acquired newest-first, leaves the device unbound and reports the failure', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb', devfs: new DevFs() });
    events(bus, log);
    const failure = new Error('firmware missing');
    await bus.register(
      driver('sensor', log, {
        async probe(device) {
          device.managed.adopt('a', (v) => void log.push(`release ${v}`));
          device.managed.defer(() => void log.push('release b'));
          device.managed.node('/dev/sensor0', {});
          device.data = { ready: false };
          await flushMicrotasks();
          device.managed.add('c', (v) => void log.push(`release ${v}`));
          throw failure;
        },
      }),
    );
    const device = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
    const probeErrors: unknown[] = [];
    device.addEventListener('probe-error', (event) => probeErrors.push((event as DeviceEvent).error));
    await bus.add(device);
    assert.equal(device.state, 'unbound');
    assert.equal(device.driver, null);
    assert.equal(device.data, undefined);
    assert.equal(device.probeError, failure);
    assert.deepEqual(probeErrors, [failure]);
    assert.throws(() => device.managed, code('ENODEV'));
    assert.equal(bus.devfs?.has('/dev/sensor0'), false);
    assert.deepEqual(log, ['release c', 'release b', 'release a', 'probe-error sensor0'], 'no remove() for a failed probe');
    await bus.remove(device);
  });

  it('chains a failing release onto the probe error', async () => {
    const bus = new Bus({ name: 'usb' });
    await bus.register(
      driver('sensor', [], {
        probe(device) {
          device.managed.defer(() => {
            throw new Error('release failed');
          });
          throw new Error('probe failed');
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    const error = device.probeError as SuppressedError;
    assert.equal((error.error as Error).message, 'release failed');
    assert.equal((error.suppressed as Error).message, 'probe failed');
    await bus.remove(device);
  });

  it('an unplug during probe waits for the probe, then unbinds', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const probing = deferred();
    await bus.register(
      driver('sensor', log, {
        async probe(device) {
          log.push('probe starts');
          device.managed.defer(() => void log.push('released'));
          await probing.promise;
          log.push('probe ends');
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    const adding = bus.add(device);
    await flushMicrotasks();
    assert.equal(device.state, 'probing');
    const removing = bus.remove(device);
    assert.equal(await state(removing), 'pending');
    assert.equal(device.state, 'probing');
    probing.resolve();
    await adding;
    await removing;
    assert.deepEqual(log, ['probe starts', 'probe ends', 'remove d', 'released']);
    assert.equal(device.state, 'removed');
  });

  it('ProbeDeferError: the device waits on the deferred list and binds after another driver binds', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    events(bus, log);
    let clockReady = false;
    await bus.register(
      driver('consumer', log, {
        probe(device) {
          if (!clockReady) throw new ProbeDeferError('clock not ready');
          log.push(`probe ${device.name}`);
        },
      }),
    );
    await bus.register(driver('clock', log, { probe: () => void (clockReady = true) }));
    const consumer = new Device({ name: 'consumer0', properties: { kind: 'consumer' } });
    await bus.add(consumer);
    assert.equal(consumer.state, 'unbound');
    assert.ok(consumer.probeError instanceof ProbeDeferError);
    assert.deepEqual(bus.deferred, [consumer]);
    await bus.add(new Device({ name: 'clock0', properties: { kind: 'clock' } }));
    await bus.settled();
    assert.equal(consumer.state, 'bound');
    assert.deepEqual(bus.deferred, []);
    assert.deepEqual(log, ['probe-deferred consumer0', 'bound clock0', 'probe consumer0', 'bound consumer0']);
    for (const device of bus.devices) await bus.remove(device);
  });

  it('a driver that always defers is retried once per successful bind, never in a loop', async () => {
    const bus = new Bus({ name: 'usb' });
    const probe = mock.fn(() => {
      throw new ProbeDeferError();
    });
    await bus.register(driver('stubborn', [], { probe }));
    await bus.register(driver('plain', []));
    await bus.add(new Device({ name: 's', properties: { kind: 'stubborn' } }));
    assert.equal(probe.mock.callCount(), 1);
    await bus.add(new Device({ name: 'p1', properties: { kind: 'plain' } }));
    await bus.settled();
    assert.equal(probe.mock.callCount(), 2);
    await bus.add(new Device({ name: 'p2', properties: { kind: 'plain' } }));
    await bus.settled();
    await flushMicrotasks();
    assert.equal(probe.mock.callCount(), 3);
    for (const device of bus.devices) await bus.remove(device);
    assert.deepEqual(bus.deferred, []);
  });

  it('reports a match that throws, or returns a promise, as a probe error', async () => {
    const bus = new Bus({ name: 'usb' });
    await bus.register(driver('async', [], { match: (() => Promise.resolve(true)) as never }));
    const device = new Device({ name: 'd' });
    await bus.add(device);
    assert.match(String(device.probeError), /match\(\) must be synchronous/);
    assert.equal(device.state, 'unbound');
    await bus.remove(device);
  });
});

describe('Bus: the unbind order', () => {
  it('stops callbacks, revokes nodes (release with data valid), calls remove, then releases newest-first', async () => {
    const log: string[] = [];
    const devfs = new DevFs();
    const bus = new Bus({ name: 'usb', devfs });
    const irq = new EventTarget();
    const callbackRunning = deferred();
    let entered!: () => void;
    const callbackEntered = new Promise<void>((resolve) => (entered = resolve));
    await bus.register(
      driver('sensor', log, {
        probe(device) {
          const data = { valid: true };
          device.data = data;
          device.managed.defer(() => void log.push('release first'));
          device.managed.listener(irq, 'irq', async () => {
            log.push('irq handler starts');
            entered();
            await callbackRunning.promise;
            log.push('irq handler ends');
          });
          device.managed.node('/dev/sensor0', { release: () => void log.push(`file release, data valid: ${data.valid}`) });
          device.managed.defer(() => {
            data.valid = false;
            log.push('release last');
          });
        },
        remove(device) {
          log.push(`remove, state ${device.state}`);
        },
      }),
    );
    const device = new Device({ name: 'sensor0', properties: { kind: 'sensor' } });
    await bus.add(device);
    const file = await devfs.open('/dev/sensor0');
    irq.dispatchEvent(new Event('irq'));
    await callbackEntered;
    const removing = bus.remove(device);
    await flushMicrotasks();
    assert.equal(device.state, 'unbinding');
    irq.dispatchEvent(new Event('irq'));
    assert.equal(await state(removing), 'pending', 'unbind waits for the running handler');
    assert.deepEqual(log, ['irq handler starts'], 'no handler starts once unbind began, and nothing else ran yet');
    callbackRunning.resolve();
    await removing;
    assert.deepEqual(log, [
      'irq handler starts',
      'irq handler ends',
      'file release, data valid: true',
      'remove, state unbinding',
      'release last',
      'release first',
    ]);
    assert.equal(await file.read(), null);
    await file.close();
    assert.equal(log.length, 6);
  });

  it('runs every step even when one fails, and rejects with the failures after', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    await bus.register(
      driver('sensor', log, {
        probe: (device) => void device.managed.defer(() => void log.push('released')),
        remove: () => {
          throw new Error('remove failed');
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    await assert.rejects(bus.remove(device), /remove failed/);
    assert.deepEqual(log, ['released']);
    assert.equal(device.state, 'removed');
  });

  it('bounds the drain with a timeout: rejects DrainTimeoutError and completes the unbind later', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const irq = new EventTarget();
    const handler = deferred();
    await bus.register(
      driver('sensor', log, {
        probe: (device) => void device.managed.listener(irq, 'irq', () => handler.promise),
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    irq.dispatchEvent(new Event('irq'));
    mock.timers.enable({ apis: ['setTimeout'] });
    let removing: Promise<void>;
    try {
      removing = bus.remove(device, { timeout: 100 });
      await flushMicrotasks();
      mock.timers.tick(100);
      await assert.rejects(removing, (error: unknown) => error instanceof DrainTimeoutError && error.pending === 1);
    } finally {
      mock.timers.reset();
    }
    assert.equal(device.state, 'unbinding');
    handler.resolve();
    await bus.remove(device);
    assert.deepEqual(log, ['remove d']);
    assert.equal(device.state, 'removed');
  });

  it('lets a managed callback start the removal of its own device: it completes once the callback returned', async () => {
    const log: string[] = [];
    const bus = new Bus({ name: 'usb' });
    const socket = new EventTarget();
    let removal: Promise<void> | undefined;
    await bus.register(
      driver('tty', log, {
        probe: (device) =>
          void device.managed.listener(socket, 'close', () => {
            // The hardware vanished under a bound driver: remove the device, without awaiting it here.
            removal = bus.remove(device);
            log.push(`close handler returns, state ${device.state}`);
          }),
      }),
    );
    const device = new Device({ name: 'ttyS0', properties: { kind: 'tty' } });
    await bus.add(device);
    socket.dispatchEvent(new Event('close'));
    await removal;
    assert.deepEqual(log, ['close handler returns, state bound', 'remove ttyS0']);
    assert.equal(device.state, 'removed');
  });
});

describe('Bus: unbinds started from inside the device', () => {
  it('from its probe, or from one of its file operations, run after that call returned', async () => {
    const devfs = new DevFs();
    const log: string[] = [];
    const bus = new Bus({ name: 'usb', devfs });
    let unregistering: Promise<void> | undefined;
    const sensor: Driver = driver('sensor', log, {
      probe(device) {
        if (device.name === 'gone') void bus.remove(device); // found absent during probe
        device.managed.node(`/dev/${device.name}`, {
          ioctl: () => {
            unregistering = bus.unregister(sensor);
            log.push('ioctl returns');
            return 0;
          },
          release: () => void log.push('release'),
        });
      },
    });
    await bus.register(sensor);
    const gone = new Device({ name: 'gone', properties: { kind: 'sensor' } });
    await bus.add(gone);
    await bus.remove(gone);
    assert.equal(gone.state, 'removed');
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    const file = await devfs.open('/dev/d');
    assert.equal(await file.ioctl('x'), 0);
    await unregistering;
    assert.deepEqual(log, ['remove gone', 'ioctl returns', 'release', 'remove d']);
    assert.equal(device.state, 'unbound');
    await file.close();
    await bus.remove(device);
  });
});

describe('device.managed helpers', () => {
  it('interval and timeout stop being called at unbind, and a released entry stops early', async () => {
    mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
    try {
      const ticks: string[] = [];
      const bus = new Bus({ name: 'usb' });
      await bus.register(
        driver('sensor', [], {
          probe(device) {
            device.managed.interval(() => ticks.push('interval'), 10);
            device.managed.timeout(() => ticks.push('timeout 15'), 15);
            const cancelled = device.managed.timeout(() => ticks.push('cancelled'), 5);
            void device.managed.release(cancelled);
            device.managed.timeout(() => ticks.push('timeout 50'), 50);
          },
        }),
      );
      const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
      await bus.add(device);
      mock.timers.tick(20);
      assert.deepEqual(ticks, ['interval', 'timeout 15', 'interval']);
      assert.equal(device.managed.size, 2, 'the fired timeout left the scope');
      await bus.remove(device);
      mock.timers.tick(100);
      assert.deepEqual(ticks, ['interval', 'timeout 15', 'interval']);
    } finally {
      mock.timers.reset();
    }
  });

  it('listener works with an EventTarget and with a Node EventEmitter, and stops at unbind', async () => {
    const calls: string[] = [];
    const target = new EventTarget();
    const emitter = new EventEmitter();
    const legacy = { handlers: new Set<(...a: unknown[]) => void>(), addListener(_t: string, fn: (...a: unknown[]) => void) { this.handlers.add(fn); }, removeListener(_t: string, fn: (...a: unknown[]) => void) { this.handlers.delete(fn); } };
    const bus = new Bus({ name: 'usb' });
    await bus.register(
      driver('sensor', [], {
        probe(device) {
          device.managed.listener(target, 'ping', (event: Event) => calls.push(`target ${event.type}`));
          device.managed.listener(emitter, 'data', (a: number, b: number) => calls.push(`emitter ${a + b}`));
          device.managed.listener(legacy, 'x', () => calls.push('legacy'));
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    target.dispatchEvent(new Event('ping'));
    emitter.emit('data', 1, 2);
    for (const fn of legacy.handlers) fn();
    await bus.remove(device);
    target.dispatchEvent(new Event('ping'));
    emitter.emit('data', 1, 2);
    assert.deepEqual(calls, ['target ping', 'emitter 3', 'legacy']);
    assert.equal(emitter.listenerCount('data'), 0);
    assert.equal(legacy.handlers.size, 0);
  });

  it('abortController aborts when unbind begins; revocable is revoked with the scope, its handles fail ENODEV', async () => {
    const bus = new Bus({ name: 'usb' });
    let controller!: AbortController;
    let handle!: RevocableHandle<{ port: number }>;
    const released: string[] = [];
    await bus.register(
      driver('sensor', [], {
        probe(device) {
          controller = device.managed.abortController();
          handle = device.managed.revocable({ port: 1 }, { name: 'port', release: () => void released.push('port') }).handle();
        },
        remove: () => {
          assert.equal(controller.signal.aborted, true, 'aborted before remove()');
          assert.equal(handle.tryWith((r) => r.port), 1, 'the revocable is still live in remove()');
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    assert.equal(controller.signal.aborted, false);
    await bus.remove(device);
    assert.deepEqual(released, ['port']);
    assert.throws(() => handle.with((r) => r.port), (error: unknown) => error instanceof RevokedError && error.code === 'ENODEV');
  });

  it('validates helper arguments and changes nothing', async () => {
    const bus = new Bus({ name: 'usb' });
    const checks: (() => void)[] = [];
    await bus.register(
      driver('sensor', [], {
        probe(device) {
          const m = device.managed;
          checks.push(
            () => assert.throws(() => m.interval('x' as never, 5), /Expected `fn` to be a function/),
            () => assert.throws(() => m.interval(() => {}, -1), RangeError),
            () => assert.throws(() => m.timeout(() => {}, Number.POSITIVE_INFINITY), RangeError),
            () => assert.throws(() => m.listener({} as never, 'x', () => {}), /Expected `target` to be an EventTarget/),
            () => assert.throws(() => m.listener(new EventTarget(), Symbol('x'), () => {}), TypeError),
            () => assert.throws(() => m.node('/dev/x', {}), code('ENOENT')),
          );
        },
      }),
    );
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    await bus.add(device);
    for (const check of checks) check();
    assert.equal(device.managed.size, 0);
    await bus.remove(device);
  });
});

describe('device.managed.signal: the scope signal of a binding', () => {
  it('aborts at the first step of unbind, so a managed listener bound to the scope never fires while older entries are released', async () => {
    const bus = new Bus({ name: 'b' });
    const target = new EventTarget();
    const calls: string[] = [];
    const slowRelease = deferred();
    let signalAtRemove: boolean | undefined;
    await bus.register({
      name: 'd',
      match: () => true,
      probe(device) {
        // The oldest entry: without the scope's signal it would be released last, and fire until then.
        addManagedListener(target, 'tick', () => void calls.push('bound to the scope'), { scope: device.managed });
        device.managed.listener(target, 'tick', (_event: Event, signal: AbortSignal) => void calls.push(`helper, signal ${signal.aborted ? 'aborted' : 'live'}`));
        device.managed.defer(() => slowRelease.promise);
      },
      remove(device) {
        signalAtRemove = device.managed.signal.aborted;
      },
    });
    const device = new Device({ name: 'd0' });
    await bus.add(device);
    target.dispatchEvent(new Event('tick'));
    assert.deepEqual(calls.sort(), ['bound to the scope', 'helper, signal live']);
    const scope = device.managed;
    assert.equal(scope.signal.aborted, false);
    const removal = bus.remove(device);
    await flushMicrotasks();
    assert.equal(scope.signal.aborted, true, 'aborted in the first step, before the releases');
    assert.ok(scope.signal.reason instanceof RevokedError);
    target.dispatchEvent(new Event('tick'));
    assert.equal(calls.length, 2, 'nothing fires while the slow release is pending');
    slowRelease.resolve();
    await removal;
    assert.equal(signalAtRemove, true, 'remove() runs after the signal aborted');
    target.dispatchEvent(new Event('tick'));
    assert.equal(calls.length, 2);
  });
});

describe('device.managed after the binding', () => {
  it('throws ENODEV once unbound; a stashed scope releases what is added to it and throws', async () => {
    const bus = new Bus({ name: 'usb' });
    let stashed!: DeviceScope;
    await bus.register(driver('sensor', [], { probe: (device) => void (stashed = device.managed) }));
    const device = new Device({ name: 'd', properties: { kind: 'sensor' } });
    assert.throws(() => device.managed, code('ENODEV'));
    await bus.add(device);
    await bus.remove(device);
    assert.throws(() => device.managed, code('ENODEV'));
    const released: string[] = [];
    assert.throws(() => stashed.add('late', (v) => void released.push(v)), ReferenceError);
    const target = new EventTarget();
    assert.throws(() => stashed.listener(target, 'x', () => released.push('called')), ReferenceError);
    target.dispatchEvent(new Event('x'));
    await flushMicrotasks();
    assert.deepEqual(released, ['late']);
  });
});

describe('device.ref()', () => {
  it('keeps the device readable after unplug; release runs when the last reference drops', async () => {
    const released: string[] = [];
    const bus = new Bus({ name: 'usb' });
    await bus.register(driver('sensor', []));
    const device = new Device({ name: 'd', properties: { kind: 'sensor' }, release: (d) => void released.push(d.name) });
    await bus.add(device);
    const ref = device.ref();
    const removed: string[] = [];
    ref.value.addEventListener('removed', () => removed.push('removed'));
    await bus.remove(device);
    assert.deepEqual(released, [], 'a reference is still held');
    assert.equal(ref.value.name, 'd');
    assert.equal(ref.value.state, 'removed');
    assert.deepEqual(removed, ['removed']);
    assert.throws(() => ref.value.managed, code('ENODEV'));
    assert.throws(() => device.ref(), code('ENODEV'));
    const second = ref.clone();
    ref.dispose();
    assert.deepEqual(released, []);
    second.dispose();
    assert.deepEqual(released, ['d']);
  });
});

type SuppressedError = Error & { error: unknown; suppressed: unknown };
