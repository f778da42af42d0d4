// Type-checks a consumer project against the packed package, as a user on Node 20 gets it:
// `npm pack`'s tarball, a tsconfig with `lib: ["ES2023"]`, `@types/node@20` and no `skipLibCheck`,
// importing every entry point. Needs `dist/` (npm run build).
//
//   node scripts/consumer-types.js            links this checkout's typescript and @types/node
//   node scripts/consumer-types.js --install  installs typescript and @types/node@20 from the registry
//
// Exits non-zero, printing tsc's errors, when the published declarations do not compile there.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const install = process.argv.includes('--install');
if (!existsSync(join(root, 'dist', 'index.d.ts'))) {
  console.error('consumer-types: no dist/ to pack; run `npm run build` first');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'revocable-consumer-'));
try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir, root], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
  const tarball = join(dir, packed[0].filename);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  if (install) {
    const typescript = JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("typescript/package.json").version)'], { cwd: root, encoding: 'utf8' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball, `typescript@${typescript}`, '@types/node@20'], { cwd: dir, stdio: 'inherit' });
  } else {
    mkdirSync(join(dir, 'node_modules', 'revocable'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', join(dir, 'node_modules', 'revocable'), '--strip-components=1']);
    symlinkSync(join(root, 'node_modules', 'typescript'), join(dir, 'node_modules', 'typescript'), 'dir');
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: ['node'],
          strict: true,
          noEmit: true,
        },
        files: ['index.ts'],
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, 'index.ts'),
    `import 'revocable/polyfill';
import { installed } from 'revocable/polyfill';
import { AsyncDisposableStack, DisposableStack, ResourceScope, Revocable, SuppressedError, type ScopeEntry } from 'revocable';
import * as device from 'revocable/device';
import * as node from 'revocable/node';
import * as testing from 'revocable/testing';

interface Db { close(): Db }
const db: Db = { close: () => db };

export async function main(): Promise<readonly string[]> {
  await using scope = new ResourceScope({ name: 'service' });
  const entry: ScopeEntry<Db> = scope.add(db, (d) => d.close());
  scope.adopt(db, (d) => d.close());
  const signal: AbortSignal = scope.signal;
  const stack = new AsyncDisposableStack();
  stack.use(scope.move());
  await stack.disposeAsync();
  using sync = new DisposableStack();
  sync.defer(() => {});
  const provider = new Revocable(db, { release: (d) => d.close() });
  const error = new SuppressedError(new Error('b'), new Error('a'));
  void [entry, signal, provider, error.error, error.suppressed, device, node, testing];
  return installed;
}
`,
  );
  const tsc = spawnSync(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
  if (tsc.status !== 0) {
    console.error(`consumer-types: the packed declarations do not compile under lib ES2023 + @types/node@20:\n${tsc.stdout}${tsc.stderr}`);
    process.exitCode = 1;
  } else {
    console.log(`consumer-types: ${packed[0].filename} compiles under lib ES2023 + @types/node@20, no skipLibCheck`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
