/**
 * The two bugs of the article "When does the use of the devres API harm?", reproduced as drivers,
 * and shown impossible here.
 *
 * 1. An interrupt handler registered with devres still fires after `remove()` has killed the
 *    tasklet it schedules, because devres frees the interrupt only after `remove()`.
 * 2. A file held open across unbind is closed afterwards, and its `close` touches driver data that
 *    devres already freed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bus, Device, DeviceError, DevFs, type Driver } from '../../src/device/index.js';
import { flushMicrotasks } from '../support/deferred.js';
import '../support/leaks.js';
import { checkEveryStep, checkedScheduler as scheduler, runs } from '../support/model.js';



describe('the first bug: an interrupt handler firing after remove()', () => {
  it('no handler or tasklet runs after unbind has begun, under every interleaving the scheduler finds', async () => {
    await fc.assert(
      fc.asyncProperty(scheduler, fc.nat({ max: 6 }), fc.constantFrom('remove', 'unregister'), async (s, interrupts, unbindBy) => {
        const irqLine = new EventTarget(); // the interrupt
        const softirq = new EventTarget(); // where scheduled tasklets run
        const violations: string[] = [];
        let unbindBegun = false;
        let handlersInFlight = 0;
        let taskletsInFlight = 0;
        let handlerRuns = 0;
        let taskletRuns = 0;
        /** struct my_struct, from devm_kzalloc: freed by the managed release. */
        let ms: { tasklet: { killed: boolean }; freed: boolean } | undefined;

        const driver: Driver = {
          name: 'my_driver',
          match: () => true,
          probe(device) {
            const data = { tasklet: { killed: false }, freed: false };
            ms = data;
            device.managed.defer(() => void (data.freed = true)); // devm_kzalloc
            device.managed.abortController().signal.addEventListener('abort', () => void (unbindBegun = true));
            // tasklet_init(&ms->tasklet, tasklet_handler, ms)
            device.managed.listener(softirq, 'tasklet', async () => {
              if (unbindBegun) violations.push('tasklet ran after unbind began');
              if (data.tasklet.killed) violations.push('tasklet ran after tasklet_kill');
              if (data.freed) violations.push('tasklet touched freed driver data');
              taskletRuns++;
              taskletsInFlight++;
              await s.schedule(Promise.resolve(), 'tasklet body');
              if (data.freed) violations.push('tasklet touched freed driver data');
              taskletsInFlight--;
            });
            // devm_request_irq(irq, irq_handler, ms)
            device.managed.listener(irqLine, 'irq', async () => {
              if (unbindBegun) violations.push('irq handler ran after unbind began');
              handlerRuns++;
              handlersInFlight++;
              // tasklet_schedule(&ms->tasklet): the softirq runs it later, when the scheduler says
              void s.schedule(Promise.resolve(), 'softirq').then(() => softirq.dispatchEvent(new Event('tasklet')));
              await s.schedule(Promise.resolve(), 'irq handler body');
              if (data.freed) violations.push('irq handler touched freed driver data');
              handlersInFlight--;
            });
          },
          remove() {
            // tasklet_kill(&ms->tasklet): with devres, the irq is still requested here.
            if (handlersInFlight !== 0 || taskletsInFlight !== 0) violations.push('remove() ran with a handler or tasklet in flight');
            if (ms !== undefined) ms.tasklet.killed = true;
          },
        };

        const bus = new Bus({ name: 'platform' });
        await bus.register(driver);
        const device = new Device({ name: 'my_device' });
        await bus.add(device);
        checkEveryStep(() => assert.deepEqual(violations, []));

        const irqs = Array.from({ length: interrupts }, (_, i) =>
          s.schedule(Promise.resolve(), `interrupt ${i}`).then(() => void irqLine.dispatchEvent(new Event('irq'))),
        );
        const unbind = s.schedule(Promise.resolve(), 'unbind').then(() => (unbindBy === 'remove' ? bus.remove(device) : bus.unregister(driver)));
        await s.waitFor(Promise.all([...irqs, unbind]));
        await s.waitIdle();
        // Stray interrupts and softirqs after unbind: nothing runs.
        const [handlersBefore, taskletsBefore] = [handlerRuns, taskletRuns];
        irqLine.dispatchEvent(new Event('irq'));
        softirq.dispatchEvent(new Event('tasklet'));
        assert.deepEqual([handlerRuns, taskletRuns], [handlersBefore, taskletsBefore]);
        assert.deepEqual(violations, []);
        assert.equal(ms?.freed, true);
        if (device.bus !== null) await bus.remove(device);
      }),
      { numRuns: runs },
    );
  });

  it('the same driver with a plain addEventListener shows the bug (the test can see it)', async () => {
    const irqLine = new EventTarget();
    let killed = false;
    const ranAfterKill: string[] = [];
    const bus = new Bus({ name: 'platform' });
    const driver: Driver = {
      name: 'buggy',
      match: () => true,
      probe(device) {
        const handler = (): void => void (killed && ranAfterKill.push('irq handler'));
        irqLine.addEventListener('irq', handler);
        device.managed.defer(() => irqLine.removeEventListener('irq', handler)); // freed after remove()
      },
      remove: () => {
        killed = true;
        irqLine.dispatchEvent(new Event('irq')); // an interrupt arrives between remove() and the release
      },
    };
    await bus.register(driver);
    const device = new Device({ name: 'd' });
    await bus.add(device);
    await bus.remove(device);
    assert.deepEqual(ranAfterKill, ['irq handler']);
  });
});

describe('the second bug: a file closed after unbind', () => {
  for (const unbindBy of ['remove', 'unregister'] as const) {
    it(`release runs once during unbind (${unbindBy}) with driver data valid; nothing touches driver data afterwards`, async () => {
      let freed = false;
      const touchedAfterFree: string[] = [];
      const releases: boolean[] = [];
      /** Driver data as devm_kzalloc'd memory: any access after the managed release is recorded. */
      const poisoned = <T extends object>(value: T): T =>
        new Proxy(value, {
          get(target, key, receiver) {
            if (freed) touchedAfterFree.push(`read ${String(key)}`);
            return Reflect.get(target, key, receiver);
          },
          set(target, key, v, receiver) {
            if (freed) touchedAfterFree.push(`write ${String(key)}`);
            return Reflect.set(target, key, v, receiver);
          },
        });

      const devfs = new DevFs();
      const bus = new Bus({ name: 'usb', devfs });
      const driver: Driver = {
        name: 'our_driver',
        match: () => true,
        probe(device) {
          const ms = poisoned({ opens: 0, written: [] as string[], name: 'node_served_by_driver' });
          device.data = ms;
          device.managed.defer(() => void (freed = true)); // the devm_kzalloc'd memory goes
          device.managed.node('/dev/node_served_by_driver', {
            open: () => void ms.opens++,
            read: () => ms.name,
            write: (_file, data) => {
              ms.written.push(data as string);
              return (data as string).length;
            },
            // closecb: do_something_on_close(ms)
            release: () => {
              releases.push(!freed);
              ms.opens--;
            },
          });
        },
      };
      await bus.register(driver);
      const device = new Device({ name: 'our_device' });
      await bus.add(device);
      // 1-2: the driver is bound; the node is opened and stays open.
      const file = await devfs.open('/dev/node_served_by_driver');
      assert.equal(await file.read(), 'node_served_by_driver');
      // 3: unbind (echo our_device_name > .../unbind, or unplug).
      if (unbindBy === 'remove') await bus.remove(device);
      else await bus.unregister(driver);
      assert.deepEqual(releases, [true], 'release ran once, during unbind, while driver data was valid');
      assert.equal(freed, true);
      // 4: use the file, then close it.
      assert.equal(await file.read(), null);
      await assert.rejects(file.write('late'), (error: unknown) => error instanceof DeviceError && error.code === 'EIO');
      await file.close();
      await file.close();
      await flushMicrotasks();
      // 5: no fall of the kernel.
      assert.deepEqual(touchedAfterFree, []);
      assert.deepEqual(releases, [true]);
      if (device.bus !== null) await bus.remove(device);
    });
  }
});
