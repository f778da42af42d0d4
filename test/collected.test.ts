import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Revocable, disableDebug, enableDebug } from '../src/index.js';

const gc = (globalThis as { gc?: () => void }).gc;

async function collectGarbage(): Promise<void> {
  assert.ok(gc, 'run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    // FinalizationRegistry callbacks run in a later task.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

afterEach(() => disableDebug());

describe('the finalization tracker (debug mode)', () => {
  it('warns once per creation site when accesses are collected without release', async () => {
    const warnings: string[] = [];
    enableDebug({ warn: (m) => warnings.push(m) });
    const provider = new Revocable({}, { name: 'ttyUSB0' });
    const leak = (): void => {
      provider.access(); // dropped on the floor: never released
    };
    for (let i = 0; i < 5; i++) leak();
    await collectGarbage();
    assert.equal(warnings.length, 1, 'five leaks from one site, one warning');
    assert.match(warnings[0] ?? '', /^An access of "ttyUSB0" was garbage collected without being released: a revoke of its provider will wait for it forever\. Created at:\n.*collected\.test\.ts/s);
    assert.equal(provider.accesses, 5, 'the count they hold is still there: that is the leak');
  });

  it('says nothing about released accesses, closed handles, or handles of a revoked provider', async () => {
    const warnings: string[] = [];
    enableDebug({ warn: (m) => warnings.push(m) });
    const provider = new Revocable({});
    (() => {
      for (let i = 0; i < 3; i++) provider.access().release();
      provider.handle().close();
      provider.handle(); // unclosed, but its provider is revoked below
    })();
    await provider.revoke();
    await collectGarbage();
    assert.deepEqual(warnings, []);
  });

  it('warns about a handle collected unclosed while its provider is live', async () => {
    const warnings: string[] = [];
    enableDebug({ warn: (m) => warnings.push(m) });
    const provider = new Revocable({});
    (() => void provider.handle())();
    await collectGarbage();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^A handle was garbage collected without being released\. Created at:/);
    await provider.revoke();
  });
});
