/**
 * The Promela model of the shared gate's protocol (models/shared/gate.pml), checked by spin: the
 * protocol holds and each of the four deliberate mutants is caught. `.ci/run` runs the same check
 * once before the test suites and sets REVOCABLE_MODEL_CHECKED so that they do not repeat it. With
 * CI set, a missing spin fails; elsewhere the test skips and says why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

function skip(): string | false {
  if (process.env['REVOCABLE_MODEL_CHECKED'] === '1') return 'checked once already by .ci/run (scripts/check-model.js)';
  if (has('spin') && has('gcc')) return false;
  if (process.env['CI']) throw new Error('CI must install spin and gcc (see .ci/run) for the model check');
  return 'spin or gcc missing (apt-get install spin gcc; .ci/run does)';
}

describe('the Promela model of the shared gate', () => {
  it('holds, with no access inside after release, no invalid end state and one winner, while each mutant fails', { skip: skip(), timeout: 600_000 }, () => {
    const run = spawnSync(process.execPath, ['scripts/check-model.js'], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /ok {3}the protocol: no error/);
    assert.equal(run.stdout.match(/^ok {3}mutant: /gm)?.length, 4, run.stdout);
  });
});
