/**
 * examples/gpio.ts, the gpiolib thread as a runnable example, runs as a user would run it: the
 * consumers' descriptors are numbed by the chip's removal and the GPIO device lives until the last
 * one is put.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import '../support/leaks.js';

describe('examples/gpio.ts', () => {
  it('numbs the descriptors held across chip removal (ENODEV) and releases the device at the last put', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/gpio.ts'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'driver: gpiochip0 probed, 8 lines',
      'led: line 3 set; the tool reads it as true',
      'driver: gpiochip0 removed; the chip provider is still live',
      "bus: gpiochip0 unplugged, state 'removed'",
      'led: set line 3 -> ENODEV',
      'button: get line 5 -> ENODEV',
      "button: its device is still readable: gpiochip0, state 'removed'",
      'tool: ioctl on /dev/gpiochip0 -> ENODEV',
      'led: descriptor put',
      'gpio_device gpiochip0 released: the last reference is gone',
      'button: descriptor put',
    ]);
  });
});
