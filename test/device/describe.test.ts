import assert from 'node:assert/strict';
import { describe as suite, it, type TestContext } from 'node:test';
import { Bus, DevFs, Device, describe, describeTree } from '../../src/device/index.js';
import '../support/leaks.js';

/** A hub with a sensor under it, bound; torn down after the test whatever its outcome. */
async function fixture(t: TestContext): Promise<{ bus: Bus; devfs: DevFs; hub: Device; sensor: Device; teardown: () => Promise<void> }> {
  const devfs = new DevFs();
  const bus = new Bus({ name: 'usb', devfs });
  await bus.register({
    name: 'sensor',
    match: (device) => device.properties['kind'] === 'sensor',
    probe(device) {
      device.managed.add({ fd: 3 }, () => {}, { name: 'port' });
      device.managed.interval(() => {}, 60_000);
      device.managed.node(`/dev/${device.name}`, { read: () => 'x' });
    },
  });
  const hub = new Device({ name: 'hub0', properties: { kind: 'hub' } });
  const sensor = new Device({ name: 'sensor0', properties: { kind: 'sensor' }, parent: hub });
  await bus.add(hub);
  await bus.add(sensor);
  const teardown = async (): Promise<void> => {
    await bus.remove(sensor);
    await bus.remove(hub);
  };
  t.after(teardown);
  return { bus, devfs, hub, sensor, teardown };
}

suite('describe()', () => {
  it('draws the tree as text: states, drivers, managed resources newest first, nodes and their open files', async (t) => {
    const { bus, devfs, teardown } = await fixture(t);
    const file = await devfs.open('/dev/sensor0');
    const text = describe(bus);
    assert.equal(
      text,
      [
        'bus usb  (2 devices; drivers: sensor)',
        '└─ hub0  (unbound)',
        '   └─ sensor0  (bound; driver sensor)',
        '      ├─ managed resources  (newest first: the order of release)',
        '      │  ├─ 1. add interval(60000 ms)',
        '      │  └─ 2. add port',
        '      └─ /dev/sensor0  (live; 1 open file; 0 operations in flight)',
      ].join('\n'),
    );
    await file.close();
    assert.match(describe(bus), /\/dev\/sensor0 {2}\(live; 0 open files/);
    await teardown();
    assert.equal(describe(bus), 'bus usb  (0 devices; drivers: sensor)');
  });

  it('describes one device on its own', async (t) => {
    const { sensor, teardown } = await fixture(t);
    const tree = describeTree(sensor);
    assert.equal(tree.label, 'sensor0');
    assert.deepEqual(tree.children.map((c) => c.kind), ['managed', 'node']);
    await teardown();
    assert.equal(describe(sensor), 'sensor0  (removed)', 'a removed device has nothing left to show');
  });

  it('renders Mermaid and DOT for a picture', async (t) => {
    const { bus, teardown } = await fixture(t);
    const mermaid = describe(bus, { format: 'mermaid' });
    assert.match(mermaid, /^graph TD\n/);
    assert.match(mermaid, /n0\[\["bus usb<br\/>2 devices; drivers: sensor"\]\]/);
    assert.match(mermaid, /n1 --> n2/, 'the sensor hangs off the hub');
    assert.match(mermaid, /\(\["\/dev\/sensor0<br\/>live; 0 open files; 0 operations in flight"\]\)/);
    const dot = describe(bus, { format: 'dot' });
    assert.match(dot, /^digraph devices \{/);
    assert.match(dot, /n1 -> n2;/);
    assert.match(dot, /label="sensor0\\nbound; driver sensor"/);
    await teardown();
  });

  it('rejects what is not a bus or a device, and unknown formats', async (t) => {
    assert.throws(() => describe({} as never), /Expected `target` to be a Bus or a Device/);
    const { bus, teardown } = await fixture(t);
    assert.throws(() => describe(bus, { format: 'svg' as never }), /Expected `options.format` to be 'text', 'mermaid' or 'dot', got `"svg"`/);
    await teardown();
  });
});
