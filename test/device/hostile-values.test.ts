/**
 * What untyped and hostile callers can hand the device wing: driver code returning values whose
 * `then` throws, hand-made internal objects, getters that change their answer, arguments that are
 * wrong on a path that does not exist. None may leak a gate, wedge a node or a device, reach the
 * driver's side from the user's, or be reported as anything but what it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bus, Device, DeviceError, DeviceNode, DeviceScope, DevFs, OpenFile, type Driver, type FileOperations } from '../../src/device/index.js';
import '../support/leaks.js';

const revokedProxy = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const untyped = (value: unknown): never => value as never;
const code = (expected: string) => (error: unknown): boolean => error instanceof DeviceError && error.code === expected;

describe('driver code that returns a value whose then getter throws (a revoked Proxy)', () => {
  it('from a file operation: the operation rejects with that error and ends; a revoke completes', async () => {
    const devfs = new DevFs();
    const node = devfs.create('/dev/x', { read: () => revokedProxy(), write: async () => revokedProxy() });
    const file = await devfs.open('/dev/x');
    await assert.rejects(file.read(), TypeError);
    await assert.rejects(file.write('a'), TypeError);
    assert.equal(node.operationsInFlight, 0);
    assert.equal(await devfs.revoke('/dev/x', { timeout: 1_000 }), 1);
    await node.remove();
  });

  it('from open: the open rejects, nothing stays counted, and the file is never released', async () => {
    const devfs = new DevFs();
    let releases = 0;
    const node = devfs.create('/dev/x', { open: () => revokedProxy(), release: () => void releases++ });
    await assert.rejects(devfs.open('/dev/x'), TypeError);
    assert.equal(node.operationsInFlight, 0);
    assert.equal(node.openFiles, 0);
    assert.equal(await node.remove({ timeout: 1_000 }), 0);
    assert.equal(releases, 0);
  });

  it('from release: revoke and close reject with that error, never throw, and the node stays usable', async () => {
    const devfs = new DevFs();
    const node = devfs.create('/dev/x', { read: () => 'ok', release: () => revokedProxy() });
    await devfs.open('/dev/x');
    let revoking!: Promise<number>;
    assert.doesNotThrow(() => (revoking = devfs.revoke('/dev/x')));
    await assert.rejects(revoking, TypeError);
    assert.equal(node.state, 'live', 'a fresh generation after the failed release');
    const again = await devfs.open('/dev/x');
    assert.equal(await again.read(), 'ok');
    await assert.rejects(again.close(), TypeError);
    assert.equal(again.state, 'closed');
    await node.remove();
  });

  it('from probe and remove: a failed probe, and a removal that completes and reports', async () => {
    const devfs = new DevFs();
    const bus = new Bus({ name: 'b', devfs });
    const failing: Driver = { name: 'p', match: (d) => d.name === 'a', probe: () => revokedProxy() };
    const removing: Driver = { name: 'r', match: (d) => d.name === 'b', probe: () => {}, remove: () => revokedProxy() };
    await bus.register(failing);
    await bus.register(removing);
    const a = new Device({ name: 'a' });
    const b = new Device({ name: 'b' });
    await bus.add(a);
    await bus.add(b);
    assert.equal(a.state, 'unbound');
    assert.ok(a.probeError instanceof TypeError);
    assert.equal(b.state, 'bound');
    await assert.rejects(bus.remove(b), TypeError);
    assert.equal(b.state, 'removed');
    await bus.remove(a);
  });
});

describe('internal constructors of the device wing', () => {
  it('refuse OpenFile, DeviceNode and DeviceScope made by hand', () => {
    const make = (type: unknown, ...args: unknown[]): unknown => new (type as new (...a: unknown[]) => unknown)(...args);
    assert.throws(() => make(OpenFile, {}), { name: 'TypeError', message: /OpenFile is not constructed directly/ });
    assert.throws(() => make(DeviceNode, '/dev/x', {}), { name: 'TypeError', message: /DeviceNode is not constructed directly/ });
    assert.throws(() => make(DeviceScope, {}), { name: 'TypeError', message: /DeviceScope is not constructed directly/ });
  });
});

describe('an open file, user side', () => {
  it('reaches nothing of the driver side: no driver file, no per-open data, no open or release hooks', async () => {
    const devfs = new DevFs();
    let released = 0;
    const node = devfs.create<{ secret: string }>('/dev/x', {
      open: (f) => void (f.private = { secret: 'driver data' }),
      read: (f) => f.private?.secret.length,
      release: () => void released++,
    });
    const file = await devfs.open('/dev/x');
    assert.deepEqual(Reflect.ownKeys(file), [], 'no own properties');
    const names = Object.getOwnPropertyNames(OpenFile.prototype).sort();
    assert.deepEqual(names, ['close', 'constructor', 'device', 'ioctl', 'mmap', 'path', 'poll', 'read', 'state', 'write']);
    assert.equal((file as unknown as Record<string, unknown>)['driverFile'], undefined);
    assert.equal(JSON.stringify(file), '{}');
    assert.equal(await file.read(), 11);
    await file.close();
    assert.equal(released, 1);
    await node.remove();
  });
});

describe('arguments of the device wing', () => {
  it('are checked before any lookup: a bad timeout is a RangeError on a path that exists and on one that does not', async () => {
    const devfs = new DevFs();
    const node = devfs.create('/dev/here', {});
    assert.throws(() => devfs.revoke('/dev/none', { timeout: -1 }), RangeError);
    assert.throws(() => devfs.revoke('/dev/here', { timeout: -1 }), RangeError);
    assert.throws(() => devfs.revoke('/dev/none', untyped('soon')), TypeError);
    const bus = new Bus({ name: 'b' });
    const stranger = new Device({ name: 's' });
    assert.throws(() => bus.remove(stranger, { timeout: -1 }), RangeError);
    assert.throws(() => bus.unregister({ name: 'none', match: () => false, probe: () => {} }, { timeout: NaN }), RangeError);
    await node.remove();
  });

  it('refuse timeouts and delays a timer would cut short', async () => {
    assert.throws(() => new Bus({ name: 'b', timeout: 2 ** 31 }), { name: 'RangeError', message: /`options.timeout`/ });
    const devfs = new DevFs();
    const node = devfs.create('/dev/x', {});
    assert.throws(() => node.revoke({ timeout: 2 ** 31 }), RangeError);
    assert.throws(() => node.remove({ timeout: 2 ** 40 }), RangeError);
    assert.equal(node.state, 'live', 'a refused remove removes nothing');
    const bus = new Bus({ name: 'b', devfs });
    const errors: unknown[] = [];
    await bus.register({
      name: 'd',
      match: () => true,
      probe(device) {
        for (const call of [() => device.managed.interval(() => {}, 2 ** 31), () => device.managed.timeout(() => {}, 2 ** 31)]) {
          try {
            call();
          } catch (error) {
            errors.push(error);
          }
        }
      },
    });
    const device = new Device({ name: 'd0' });
    await bus.add(device);
    assert.equal(errors.length, 2);
    for (const error of errors) assert.ok(error instanceof RangeError && /`ms`/.test(error.message));
    await bus.remove(device);
    await node.remove();
  });

  it('options, drivers and file operations are read once: what is checked is what is used', async () => {
    let nameReads = 0;
    const devfs = new DevFs();
    const bus = new Bus(untyped({ get name() { return nameReads++ === 0 ? 'b' : 42; }, devfs }));
    assert.equal(bus.name, 'b');
    assert.equal(nameReads, 1);

    let probeReads = 0;
    const probed: string[] = [];
    const driver = {
      name: 'd',
      match: () => true,
      get probe() {
        probeReads++;
        return probeReads === 1 ? (device: Device) => void probed.push(device.name) : 'not a function';
      },
    };
    await bus.register(untyped(driver));
    const device = new Device(untyped({ get name() { return 'd0'; } }));
    await bus.add(device);
    assert.equal(probeReads, 1, 'probe was read once, at registration');
    assert.deepEqual(probed, ['d0']);

    let readReads = 0;
    const operations = {
      get read() {
        readReads++;
        return readReads === 1 ? () => 'first' : () => 'swapped';
      },
    } as FileOperations;
    const node = devfs.create('/dev/x', operations);
    const file = await devfs.open('/dev/x');
    assert.equal(await file.read(), 'first');
    assert.equal(await file.read(), 'first');
    assert.equal(readReads, 1);
    await file.close();
    await node.remove();
    await bus.remove(device);
  });

  it('a device node cannot be made for a binding that is being unbound', async () => {
    const devfs = new DevFs();
    const bus = new Bus({ name: 'b', devfs });
    let late: unknown;
    await bus.register({
      name: 'd',
      match: () => true,
      probe: () => {},
      remove(device) {
        try {
          device.managed.node('/dev/late', {});
        } catch (error) {
          late = error;
        }
      },
    });
    const device = new Device({ name: 'd0' });
    await bus.add(device);
    await bus.remove(device);
    assert.ok(code('ENODEV')(late));
    assert.equal(devfs.has('/dev/late'), false, 'nothing outlives the unbind');
  });
});
