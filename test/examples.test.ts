/** The runnable examples under examples/ run to the end and say what they promise, in order. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

describe('examples/unplug.ts', () => {
  it('revokes while a consumer is mid-write: the write finishes on an open port, then the port closes', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/unplug.ts'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.split('\n').map((line) => line.replace(/^\s*\d+ ms {2}/, '')).filter(Boolean);
    const at = (pattern: RegExp): number => {
      const index = lines.findIndex((line) => pattern.test(line));
      assert.ok(index >= 0, `no line matching ${pattern} in:\n${run.stdout}`);
      return index;
    };
    const revoking = at(/driver: {3}device unplugged, revoking/);
    const kicked = at(/consumer: write kicked by the revoke/);
    const done = at(/consumer: write #\d+ done \(0 bytes\), port still open: true/);
    const closed = at(/driver: {3}\/dev\/ttyUSB0 closed/);
    const resolved = at(/driver: {3}revoke resolved; state is 'revoked'/);
    const stopped = at(/consumer: the port is gone/);
    assert.ok(revoking < kicked && kicked < done && done < closed && closed <= resolved && resolved < stopped, run.stdout);
    assert.doesNotMatch(run.stdout + run.stderr, /use after close|Warning/);
  });
});
