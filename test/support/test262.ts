/**
 * A small runner for TC39's conformance suite, test262, against this package's classes: each test
 * file runs in a fresh realm (a `node:vm` context) into which the package itself is evaluated, so
 * the errors it throws are that realm's own (`assert.throws(TypeError, ...)` compares
 * constructors), with the class under test installed as the global in place of the runtime's.
 *
 * The suite is not on npm; point `TEST262` at a checkout of it (only `harness/` and
 * `test/built-ins/` are read). Without it, callers skip.
 *
 * What it follows of test262's INTERPRETING.md: the front matter's `includes` after `assert.js`
 * and `sta.js` (none for `raw`), `flags` (`onlyStrict`, `noStrict`, `raw`; both modes otherwise,
 * and a file passes only if both do; `async` waits for `$DONE`), `negative` (an expected error).
 * Files with the `cross-realm` feature need `$262.createRealm()` and a class that knows the realm
 * of a foreign `new.target`: no userland class can, so they are counted apart, not run.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import vm from 'node:vm';
import { buildSync } from 'esbuild';

export const TEST262 = process.env['TEST262'];

interface Meta {
  includes: string[];
  flags: string[];
  features: string[];
  negative: { phase: string; type: string } | undefined;
}

/** What a file did: passed, failed (with why), or was not run because it needs a second realm. */
export type Outcome = { file: string; status: 'pass' } | { file: string; status: 'fail'; reason: string } | { file: string; status: 'cross-realm' };

function list(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return list(path);
      return entry.name.endsWith('.js') && !entry.name.includes('_FIXTURE') ? [path] : [];
    })
    .sort();
}

function yamlList(block: string, key: string): string[] {
  const inline = new RegExp(`^${key}:\\s*\\[(.*)\\]`, 'm').exec(block);
  if (inline) return (inline[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const multi = new RegExp(`^${key}:\\s*\\n((?:\\s+-.*\\n?)+)`, 'm').exec(block);
  return multi ? (multi[1] ?? '').split('\n').map((l) => l.replace(/^\s*-\s*/, '').trim()).filter(Boolean) : [];
}

function parseMeta(source: string): Meta {
  const block = /\/\*---([\s\S]*?)---\*\//.exec(source)?.[1] ?? '';
  const negative = /^negative:\s*\n\s+phase:\s*(\S+)\s*\n\s+type:\s*(\S+)/m.exec(block);
  return {
    includes: yamlList(block, 'includes'),
    flags: yamlList(block, 'flags'),
    features: yamlList(block, 'features'),
    negative: negative ? { phase: negative[1] ?? '', type: negative[2] ?? '' } : undefined,
  };
}

/**
 * The package, bundled for evaluation inside a realm: evaluating it runs `revocable/polyfill`
 * (installing whatever the realm lacks) and returns the classes. Built once per process.
 */
let bundled: vm.Script | undefined;
function bundle(): vm.Script {
  if (bundled !== undefined) return bundled;
  const entry = [
    "export { installed } from './src/polyfill.ts';",
    "export { AsyncDisposableStack } from './src/async-disposable-stack.ts';",
    "export { DisposableStack } from './src/disposable-stack.ts';",
    "export { ResourceScope } from './src/scope.ts';",
    "export { SuppressedError } from './src/internal/suppressed-error.ts';",
  ].join('\n');
  const result = buildSync({
    stdin: { contents: entry, resolveDir: process.cwd(), loader: 'ts', sourcefile: 'test262-entry.ts' },
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    // The diagnostics hooks name the library's folder from import.meta.url.
    define: { 'import.meta.url': JSON.stringify(new URL('../../src/internal/hooks.ts', import.meta.url).href) },
    logLevel: 'silent',
  });
  // Wrapped so that evaluating it leaves no global behind and returns the exports.
  const code = `(() => { const module = { exports: {} }; const exports = module.exports;\n${result.outputFiles[0]?.text ?? ''}\nreturn module.exports; })()`;
  bundled = new vm.Script(code, { filename: 'revocable.bundle.js' });
  return bundled;
}

/**
 * Evaluates the package inside `context` (its polyfill runs there, installing what the realm
 * lacks) and returns its classes, made of that realm's intrinsics.
 */
export function evaluatePackage(context: vm.Context): Record<string, unknown> {
  const global = vm.runInContext('globalThis', context) as Record<string, unknown>;
  const hadURL = 'URL' in global;
  // The diagnostics hooks read URL at load; a bare context has none.
  if (!hadURL) global['URL'] = URL;
  const exported = bundle().runInContext(context) as Record<string, unknown>;
  if (!hadURL) delete global['URL'];
  return exported;
}

const harnessScripts = new Map<string, vm.Script>();
function harness(root: string, name: string): vm.Script {
  let script = harnessScripts.get(name);
  if (script === undefined) {
    const path = join(root, 'harness', name);
    script = new vm.Script(readFileSync(path, 'utf8'), { filename: path });
    harnessScripts.set(name, script);
  }
  return script;
}

/**
 * Which class each run puts where: `remove` names the runtime's globals deleted before the package
 * is evaluated (so that its polyfill installs its own there); `swap`, a global replaced afterwards
 * by one of the package's exports (`ResourceScope` as `AsyncDisposableStack`), with the same
 * property attributes. `native` runs the runtime's own classes, as a control of the runner.
 */
export interface Installation {
  readonly remove: readonly string[];
  readonly swap?: { readonly global: string; readonly exported: string };
  readonly native?: boolean;
}

/** A fresh realm with the harness's host hooks, and the classes installed as `how` says. */
function realm(how: Installation, done: (error: unknown) => void): vm.Context {
  const context = vm.createContext();
  const global = vm.runInContext('globalThis', context) as Record<string, unknown>;
  if (how.native !== true) {
    for (const name of how.remove) delete global[name];
    const exported = evaluatePackage(context);
    if (how.swap !== undefined) {
      Object.defineProperty(global, how.swap.global, { value: exported[how.swap.exported], writable: true, enumerable: false, configurable: true });
    }
  }
  global['print'] = (): void => {};
  global['$DONE'] = done;
  global['$262'] = {
    global,
    createRealm: () => {
      throw new Error('cross-realm tests are not run');
    },
    evalScript: (code: string) => vm.runInContext(code, context),
    detachArrayBuffer: () => {
      throw new Error('not supported');
    },
    gc: () => {
      throw new Error('not supported');
    },
  };
  return context;
}

/** Runs one file in one mode; resolves `undefined` on a pass, or why it failed. */
function runOnce(root: string, file: string, source: string, meta: Meta, strict: boolean, how: Installation): Promise<string | undefined> {
  return new Promise((resolve) => {
    const isAsync = meta.flags.includes('async');
    let settled = false;
    const guard: { timer?: ReturnType<typeof setTimeout> } = {};
    const finish = (reason: string | undefined): void => {
      if (settled) return;
      settled = true;
      if (guard.timer !== undefined) clearTimeout(guard.timer);
      resolve(reason);
    };
    const expectError = (error: unknown): string | undefined => {
      if (meta.negative === undefined) return `threw ${describe(error)}`;
      const name = (error as { constructor?: { name?: unknown } } | null)?.constructor?.name;
      return name === meta.negative.type ? undefined : `expected ${meta.negative.type}, threw ${describe(error)}`;
    };
    const context = realm(how, (error: unknown) => {
      if (error === undefined) finish(meta.negative === undefined ? undefined : `expected ${meta.negative.type}, none thrown`);
      else finish(expectError(error));
    });
    try {
      if (!meta.flags.includes('raw')) {
        for (const name of ['assert.js', 'sta.js', ...meta.includes]) harness(root, name).runInContext(context);
      }
      new vm.Script(strict ? `"use strict";\n${source}` : source, { filename: file }).runInContext(context);
    } catch (error) {
      finish(expectError(error));
      return;
    }
    if (!isAsync) {
      finish(meta.negative === undefined ? undefined : `expected ${meta.negative.type}, none thrown`);
      return;
    }
    // A guard against a test that never calls $DONE, not a clock deciding an order: generous.
    guard.timer = setTimeout(() => finish('async test did not call $DONE within 10 s'), 10_000);
  });
}

function describe(error: unknown): string {
  if (error instanceof Object && 'message' in error) {
    const name = (error as { constructor?: { name?: unknown } }).constructor?.name;
    return `${String(name)}: ${String((error as { message: unknown }).message)}`;
  }
  return String(error);
}

/** Runs every file under `test/built-ins/<dir>` of the checkout at `root`, as `how` installs the classes. */
export async function runBuiltIns(root: string, dir: string, how: Installation): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const base = join(root, 'test', 'built-ins', dir);
  for (const path of list(base)) {
    const file = relative(join(root, 'test', 'built-ins'), path);
    const source = readFileSync(path, 'utf8');
    const meta = parseMeta(source);
    if (meta.features.includes('cross-realm')) {
      outcomes.push({ file, status: 'cross-realm' });
      continue;
    }
    const modes = meta.flags.includes('onlyStrict') ? [true] : meta.flags.includes('noStrict') || meta.flags.includes('raw') ? [false] : [false, true];
    let reason: string | undefined;
    for (const strict of modes) {
      const failed = await runOnce(root, path, source, meta, strict, how);
      if (failed !== undefined) {
        reason = `${strict ? 'strict' : 'sloppy'}: ${failed}`;
        break;
      }
    }
    outcomes.push(reason === undefined ? { file, status: 'pass' } : { file, status: 'fail', reason });
  }
  return outcomes;
}

/** `passed/applicable (cross-realm: n)`, for the test's diagnostics and the report. */
export function summary(outcomes: readonly Outcome[]): string {
  const pass = outcomes.filter((o) => o.status === 'pass').length;
  const crossRealm = outcomes.filter((o) => o.status === 'cross-realm').length;
  return `${pass}/${outcomes.length - crossRealm} applicable files pass (${crossRealm} cross-realm not run, ${outcomes.length} in all)`;
}
