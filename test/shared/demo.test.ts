/**
 * `npm start -- --workers N` in the test suite: the storm's consumers in worker threads against
 * shared devices must verify clean with a fixed seed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { sharedStorm } from '../../demo/shared-storm.js';

let output = '';
const out = Object.assign(
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  }),
  { isTTY: false },
) as unknown as NodeJS.WriteStream;

describe('the storm with its consumers in worker threads (npm start -- --workers N)', () => {
  it('verifies clean: no use after release in any thread, every revoke done, each shared device released once', async () => {
    // Steps of chaos, not seconds: the same work however loaded the machine (the duration is a cap a
    // healthy run never reaches).
    const result = await sharedStorm({ workers: 2, devices: 3, consumers: 3, duration: 120, steps: 16, seed: 42, quiet: false, out });
    assert.ok(result.ok, output);
    assert.ok(result.completed > 0, 'operations completed in the workers');
    assert.ok(result.unplugs.remove + result.unplugs.kill > 0, 'devices were unplugged');
    assert.ok(result.plugs > 3, 'devices were replugged');
    assert.equal(result.drains.length, result.created, 'every shared device was revoked, and each revoke finished');
    assert.equal(result.released, result.created);
    assert.deepEqual(result.usesAfterRelease, []);
    assert.deepEqual(result.violations, { useAfterRelease: [], callbackAfterRemove: [], doubleRelease: [] });
    assert.match(output, /verified: every invariant held/);
    assert.match(output, /uses after release +0/);
  });

  it('is what `npm start -- --workers 2` runs, exiting 0', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'demo/storm.ts', '--workers', '2', '--devices', '2', '--consumers', '2', '--duration', '1.5', '--seed', '3'], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /storm with 2 worker threads/);
    assert.match(run.stdout, /verified: every invariant held/);
  });
});
