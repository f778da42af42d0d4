/**
 * TC39's conformance suite, test262, against the package's `AsyncDisposableStack`,
 * `DisposableStack`, `SuppressedError` and `ResourceScope`, each file in a fresh realm with the
 * class installed as the global in place of the runtime's (see `support/test262.ts`).
 *
 * test262 is not published on npm: set `TEST262` to a checkout to run this suite (it is skipped
 * otherwise; `stacks.test.ts` checks each point the suite's files check, without it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TEST262, runBuiltIns, summary, type Installation, type Outcome } from './support/test262.js';
import './support/leaks.js';

const skip = TEST262 === undefined ? 'set TEST262 to a test262 checkout to run the conformance suite' : false;
const hasNative = typeof (globalThis as { AsyncDisposableStack?: unknown }).AsyncDisposableStack === 'function';

function failures(outcomes: readonly Outcome[]): string[] {
  return outcomes.flatMap((o) => (o.status === 'fail' ? [`${o.file}: ${o.reason}`] : []));
}

const runs: { dir: string; label: string; how: Installation; expectedFailures: readonly string[] }[] = [
  { dir: 'AsyncDisposableStack', label: 'AsyncDisposableStack', how: { remove: ['AsyncDisposableStack'] }, expectedFailures: [] },
  { dir: 'DisposableStack', label: 'DisposableStack', how: { remove: ['DisposableStack'] }, expectedFailures: [] },
  { dir: 'SuppressedError', label: 'SuppressedError', how: { remove: ['SuppressedError'] }, expectedFailures: [] },
  {
    dir: 'AsyncDisposableStack',
    label: 'ResourceScope in place of AsyncDisposableStack',
    how: { remove: ['AsyncDisposableStack'], swap: { global: 'AsyncDisposableStack', exported: 'ResourceScope' } },
    // Its own name and tag, by design: everything else of the standard holds.
    expectedFailures: ['AsyncDisposableStack/name.js', 'AsyncDisposableStack/prototype/Symbol.toStringTag.js'],
  },
];

describe('test262: built-ins/AsyncDisposableStack, DisposableStack and SuppressedError', { skip }, () => {
  for (const run of runs) {
    it(`${run.label}: passes every applicable file${run.expectedFailures.length > 0 ? ' but its name and tag' : ''}, in a fresh realm each`, async (t) => {
      const outcomes = await runBuiltIns(TEST262 as string, run.dir, run.how);
      t.diagnostic(`${run.label} on Node ${process.version}: ${summary(outcomes)}`);
      assert.ok(outcomes.length > 10, 'found the suite');
      const failed = failures(outcomes);
      assert.deepEqual(
        failed.map((f) => f.slice(0, f.indexOf(':'))),
        [...run.expectedFailures],
        failed.join('\n'),
      );
    });
  }

  it('the runtime’s own classes pass the same files, a control of the runner', { skip: hasNative ? false : 'no native AsyncDisposableStack here' }, async (t) => {
    for (const dir of ['AsyncDisposableStack', 'DisposableStack', 'SuppressedError']) {
      const outcomes = await runBuiltIns(TEST262 as string, dir, { remove: [], native: true });
      t.diagnostic(`native ${dir} on Node ${process.version}: ${summary(outcomes)}`);
      assert.deepEqual(failures(outcomes), []);
    }
  });
});
