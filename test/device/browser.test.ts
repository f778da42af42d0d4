/**
 * `revocable/device` is core: it really runs in a browser. A page imports the ESM build (`dist/`,
 * made by `npm run build` before the tests), plugs a device whose driver makes a node and listens
 * to an `EventTarget`, holds a file and a mapping across the unplug, and checks the unbind order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPage, skipBrowser } from '../support/browser.js';

const skip = skipBrowser();

const page = `<!doctype html><meta charset="utf-8"><title>revocable/device in a browser</title>
<script type="module">
import { Bus, Device, DevFs } from '/device/index.js';
const log = [];
try {
  const devfs = new DevFs();
  const bus = new Bus({ name: 'webusb', devfs });
  const irq = new EventTarget();
  await bus.register({
    name: 'sensor',
    match: () => true,
    probe(device) {
      const data = { valid: true };
      device.managed.defer(() => { data.valid = false; log.push('data freed'); });
      device.managed.listener(irq, 'irq', () => log.push('irq, data valid ' + data.valid));
      device.managed.node('/dev/' + device.name, {
        read: (file, n) => 'x'.repeat(n),
        mmap: () => new Uint8Array([7, 7, 7]).buffer,
        release: () => log.push('release, data valid ' + data.valid),
      });
    },
    remove: () => { log.push('remove'); irq.dispatchEvent(new Event('irq')); },
  });
  const device = new Device({ name: 'sensor0' });
  await bus.add(device);
  irq.dispatchEvent(new Event('irq'));
  const file = await devfs.open('/dev/sensor0');
  log.push('read ' + await file.read(3));
  const view = new Uint8Array(await file.mmap());
  await bus.remove(device);
  log.push('state ' + device.state + ', view length ' + view.length);
  log.push('read after ' + await file.read(3));
  await file.write('x').catch((e) => log.push('write after ' + e.code));
  await file.close();
  await devfs.open('/dev/sensor0').catch((e) => log.push('open after ' + e.code));
  window.result = { ok: true, log };
} catch (error) {
  window.result = { ok: false, error: String(error && error.stack || error), log };
}
</script>`;

describe('revocable/device in a browser', { skip }, () => {
  it('plugs, serves a file, unbinds in order and numbs the file and its mapping, from the ESM build', async () => {
    const result = await runPage(page);
    assert.deepEqual(result.log, [
      'irq, data valid true',
      'read xxx',
      'release, data valid true',
      'remove',
      'data freed',
      'state removed, view length 0',
      'read after null',
      'write after EIO',
      'open after ENOENT',
    ]);
  });
});
