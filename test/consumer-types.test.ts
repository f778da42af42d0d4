/**
 * The published declarations compile for a consumer on a plain Node 20 setup (`lib: ["ES2023"]`,
 * `@types/node@20`, no `skipLibCheck`): `scripts/consumer-types.js` packs the package with
 * `npm pack` and type-checks a project importing every entry point against the tarball. Needs
 * `dist/` (`npm test` builds it first). CI also runs the script with `--install`, taking
 * `@types/node@20` from the registry as a user would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import './support/leaks.js';

describe('the packed package’s types', () => {
  it('compile in a consumer project with lib ES2023, @types/node@20 and no skipLibCheck', () => {
    const run = spawnSync(process.execPath, ['scripts/consumer-types.js'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /compiles under lib ES2023/);
  });
});
