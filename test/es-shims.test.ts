/**
 * es-shims' own suite for `DisposableStack` and `AsyncDisposableStack` (shipped in the
 * `disposablestack` package, run with tape as its authors run it) against the package's classes,
 * the way a user gets them: `revocable/polyfill` first (on Node 20 it installs the package's
 * `SuppressedError`, which the suite takes from the global at load), then the root's classes.
 */
import '../src/polyfill.js';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { AsyncDisposableStack, DisposableStack, ResourceScope } from '../src/index.js';
import { asyncDispose, dispose } from '../src/internal/symbols.js';
import { leakTracker } from './support/leaks.js';

const require = createRequire(import.meta.url);

interface Row {
  readonly type: string;
  readonly ok?: boolean;
  readonly skip?: unknown;
  readonly name?: string;
}
interface Harness {
  (name: string, fn: (t: unknown) => void): void;
  createStream(options: { objectMode: true }): { on(event: 'data', fn: (row: Row) => void): void };
  onFinish(fn: () => void): void;
}
type Suite = (t: unknown, ...args: unknown[]) => void;

// The suite's file is not in the package's exports map: reach it by path.
const suites = require(join(dirname(require.resolve('disposablestack/package.json')), 'test', 'tests.js')) as Record<string, Suite>;
const tape = require('tape') as { createHarness(): Harness };

/** Runs one of the suite's sections against `Class`; resolves with its assertions. */
function run(section: string, ...args: unknown[]): Promise<Row[]> {
  return new Promise((resolve) => {
    const harness = tape.createHarness();
    const rows: Row[] = [];
    harness.createStream({ objectMode: true }).on('data', (row) => {
      if (row.type === 'assert') rows.push(row);
    });
    harness.onFinish(() => resolve(rows));
    harness(section, (t) => {
      (suites[section] as Suite)(t, ...args);
      (t as { end(): void }).end();
    });
  });
}

const isSkipped = (row: Row): boolean => row.skip !== undefined && row.skip !== false;
const count = (rows: readonly Row[]): string => {
  const passed = rows.filter((r) => r.ok === true && !isSkipped(r)).length;
  const skipped = rows.filter(isSkipped).length;
  return `${passed}/${rows.length - skipped} assertions pass${skipped > 0 ? ` (${skipped} skipped)` : ''}`;
};
const failed = (rows: readonly Row[]): string[] => rows.filter((r) => r.ok !== true).map((r) => r.name ?? '?');

describe('es-shims’ DisposableStack suite', () => {
  it('AsyncDisposableStack passes every assertion', async (t) => {
    const rows = await run('AsyncDisposableStack', AsyncDisposableStack, Symbol.asyncDispose);
    t.diagnostic(`AsyncDisposableStack on Node ${process.version}: ${count(rows)}`);
    assert.ok(rows.length >= 100, 'the suite ran');
    assert.deepEqual(failed(rows), []);
  });

  it('DisposableStack passes every assertion', async (t) => {
    const rows = await run('DisposableStack', DisposableStack, Symbol.dispose);
    t.diagnostic(`DisposableStack on Node ${process.version}: ${count(rows)}`);
    assert.ok(rows.length >= 100, 'the suite ran');
    assert.deepEqual(failed(rows), []);
  });

  it('the symbols the package keys its methods with (and the polyfill installs) pass the Symbol sections', async (t) => {
    for (const [section, symbol] of [
      ['Symbol.dispose', dispose],
      ['Symbol.asyncDispose', asyncDispose],
    ] as const) {
      const rows = await run(section, symbol);
      t.diagnostic(`${section} on Node ${process.version}: ${count(rows)}`);
      assert.ok(rows.length > 0, 'the suite ran');
      assert.deepEqual(failed(rows), []);
    }
  });

  it('ResourceScope passes every assertion of the AsyncDisposableStack section but its tag', async (t) => {
    const rows = await run('AsyncDisposableStack', ResourceScope, Symbol.asyncDispose);
    t.diagnostic(`ResourceScope on Node ${process.version}: ${count(rows)}`);
    assert.deepEqual(failed(rows), ['has the correct [[Class]]']);
    // The suite makes stacks it never disposes (to check what `new` returns): not a leak of ours.
    leakTracker.reset();
  });
});
