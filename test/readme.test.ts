/**
 * Every ```ts block of README.md runs here as a standalone module, so the examples cannot rot. A
 * block whose info string says `skip` is a fragment and is only type-checked by eye. Blocks assert
 * what they claim with node:assert; a block passes when its module runs to the end.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const readme = readFileSync('README.md', 'utf8');
const blocks = [...readme.matchAll(/^```ts([^\n]*)\n([\s\S]*?)^```$/gm)]
  .map((match) => ({ info: (match[1] ?? '').trim(), code: match[2] ?? '', line: readme.slice(0, match.index).split('\n').length }))
  .filter((block) => !/\bskip\b/.test(block.info));

// Inside the repository, so that `revocable` resolves through tsconfig's paths to the sources.
const dir = join('test', '.readme');
mkdirSync(dir, { recursive: true });
after(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has examples to run', () => {
    assert.ok(blocks.length >= 3);
  });
  for (const block of blocks) {
    it(`runs the example at README.md line ${block.line}`, () => {
      const file = join(dir, `line-${block.line}.ts`);
      writeFileSync(file, `${block.code}\nexport {};\n`);
      const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, `README.md line ${block.line} failed:\n${run.stderr}${run.stdout}`);
    });
  }
});
