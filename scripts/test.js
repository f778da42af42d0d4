// Runs every test file under test/ with Node's test runner, TypeScript loaded through tsx.
// Node 20's runner takes no glob patterns, so the files are listed here. Extra arguments (file
// paths or --test-name-pattern=...) are passed through; with file paths, only those run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return find(path);
    return /\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const targets = files.length > 0 ? files : find('test').sort();
const result = spawnSync(
  process.execPath,
  ['--expose-gc', '--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...targets],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
