/**
 * What `npm pack` ships: every source map and declaration map points at a file inside the package,
 * so a debugger or an editor's go-to-definition lands on the library's TypeScript, not on nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';

describe('the packed package', () => {
  it('ships the sources its source maps and declaration maps point to', () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const [pack] = JSON.parse(execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' })) as { files: { path: string }[] }[];
    const files = new Set((pack?.files ?? []).map((f) => normalize(f.path)));
    const maps = [...files].filter((path) => path.endsWith('.map'));
    assert.ok(maps.length > 20, `source maps are shipped (${maps.length})`);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const path = normalize(join(dirname(map), source));
        if (!files.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    assert.deepEqual(missing, []);
    assert.ok(![...files].some((path) => path.startsWith('test') || path.includes('.test.')), 'no tests in the package');
    // The README links into the guides: they ship with it, so that its links work where it is read.
    const readme = readFileSync('README.md', 'utf8');
    for (const [, target] of readme.matchAll(/\]\((docs\/[^)#]+)/g)) assert.ok(files.has(normalize(target as string)), `the package has ${target}, which the README links to`);
  });
});
