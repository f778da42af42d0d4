/** examples/shared-region.ts runs to the end and says what it promises. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('examples/shared-region.ts', () => {
  it('takes a shared region back from three writing workers: recycled only after the last write, none after', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/shared-region.ts'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split('\n').map((line) => line.replace(/^\s*\d+ ms {2}/, ''));
    const at = (pattern: RegExp): number => {
      const index = lines.findIndex((line) => pattern.test(line));
      assert.ok(index >= 0, `no line matching ${pattern} in:\n${run.stdout}`);
      return index;
    };
    assert.ok(at(/main {4}: taking the region back; 3 writes in flight/) < at(/main {4}: region recycled/));
    assert.ok(at(/main {4}: region recycled/) < at(/main {4}: revoke resolved true; state is 'revoked'/));
    for (const id of [1, 2, 3]) at(new RegExp(`worker ${id}: refused: the region was taken back after \\d+ writes, none after the recycling`));
    assert.doesNotMatch(run.stdout + run.stderr, /wrote into a recycled region/);
  });
});
