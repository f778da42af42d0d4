/**
 * Every `@example` in the TSDoc of `src/` is a complete program, and runs here, so that none can
 * rot: the fenced ts block is written to `test/.tsdoc/<module>-<line>.ts` (inside the repository,
 * so that `'revocable'`, `'revocable/node'`, ... resolve to the sources through tsconfig's paths),
 * run with `node --import` tsx in a fresh temporary directory of its own (the files an example
 * writes go there), and type-checked with all the others in one `tsc --noEmit`.
 *
 * 1. An example passes when its process exits 0 by itself within 60 s: it asserts what it states
 *    with `node:assert/strict`, and closes every server, timer and worker it opened.
 * 2. An `@example` without a fenced ts block fails the suite: nothing is skipped.
 * 3. A failure names the source file and line, for the run and for the type check.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import './support/leaks.js';

interface Example {
  /** `src/...ts`, as written in failure messages. */
  readonly source: string;
  /** The line of the `@example` tag. */
  readonly line: number;
  /** The line of the block's first line of code: line 1 of the generated file. */
  readonly codeLine: number;
  readonly code: string;
  readonly file: string;
}

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const dir = join(root, 'test', '.tsdoc');
// tsx, loaded with --import as its own `--import tsx` does, through its register() API: workers
// inherit the flag, and on Node 20 tsx's `--import tsx` entry does not reach them (an example that
// starts itself as a worker would fail there to load its own .ts).
const tsx = `data:text/javascript,import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register();`;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function sources(path: string): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const child = join(path, entry.name);
    if (entry.isDirectory()) return sources(child);
    return entry.name.endsWith('.ts') ? [child] : [];
  });
}

/** The `@example`s of one file: the ones with a fenced ts block, and the lines of those without. */
function extract(path: string): { examples: Example[]; missing: string[] } {
  const source = relative(root, path).split('\\').join('/');
  const module = source.replace(/^src\//, '').replace(/\.ts$/, '').split('/').join('-');
  const lines = readFileSync(path, 'utf8').split('\n');
  const examples: Example[] = [];
  const missing: string[] = [];
  let inComment = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (!inComment) {
      inComment = /^\s*\/\*\*/.test(raw) && !raw.includes('*/');
      continue;
    }
    if (raw.includes('*/')) {
      inComment = false;
      continue;
    }
    if (!/^\s*\* @example\b/.test(raw)) continue;
    // The example runs until the next block tag outside a fence, or the end of the comment.
    let fenceStart = -1;
    let fenceEnd = -1;
    let j = i + 1;
    for (; j < lines.length; j++) {
      const text = (lines[j] ?? '').replace(/^\s*\*(?: |$)/, '');
      if ((lines[j] ?? '').includes('*/')) break;
      if (fenceStart < 0) {
        if (/^@\w/.test(text)) break;
        if (/^```ts\s*$/.test(text)) fenceStart = j;
      } else if (/^```\s*$/.test(text)) {
        fenceEnd = j;
        break;
      }
    }
    if (fenceStart < 0 || fenceEnd < 0) {
      missing.push(`${source}:${i + 1}`);
      continue;
    }
    const code = lines
      .slice(fenceStart + 1, fenceEnd)
      .map((text) => text.replace(/^\s*\*(?: |$)/, ''))
      .join('\n');
    examples.push({ source, line: i + 1, codeLine: fenceStart + 2, code, file: join(dir, `${module}-${i + 1}.ts`) });
    i = fenceEnd;
  }
  return { examples, missing };
}

const found = sources(join(root, 'src')).sort().map(extract);
const examples = found.flatMap((entry) => entry.examples);
const missing = found.flatMap((entry) => entry.missing);

mkdirSync(dir, { recursive: true });
for (const example of examples) writeFileSync(example.file, `${example.code}\nexport {};\n`);
after(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; signal: string | null; output: string }> {
  return new Promise((done) => {
    execFile(command, args, { ...options, encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const failure = error as (Error & { code?: number | string; signal?: string | null }) | null;
      done({ code: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null, signal: failure?.signal ?? null, output: `${stderr}${stdout}` });
    });
  });
}

const byFile = new Map(examples.map((example) => [example.file, example]));

/** Points each `test/.tsdoc/<file>.ts` line in tsc's or node's output at the example's line in its source. */
function locate(output: string): string {
  return output.replace(/([^\s(]*test\/\.tsdoc\/[\w.-]+\.ts)(?:\((\d+),(\d+)\)|:(\d+):(\d+))/g, (match, file: string, ...at: (string | undefined)[]) => {
    const example = byFile.get(resolve(root, file.replace(/^file:\/\//, '')));
    const [line, column] = at[0] === undefined ? [at[2], at[3]] : [at[0], at[1]];
    return example === undefined ? match : `${example.source}:${example.codeLine + Number(line) - 1}:${column} (${match})`;
  });
}

describe('TSDoc examples', { concurrency: availableParallelism() }, () => {
  it('finds at least 100 examples in src/', () => {
    assert.ok(examples.length >= 100, `only ${examples.length} examples found`);
  });

  it('finds a fenced ts block in every @example', () => {
    assert.deepEqual(missing, [], `@example without a \`\`\`ts block at:\n${missing.join('\n')}`);
  });

  it('type-checks every example in one program', async () => {
    const config = join(dir, 'tsconfig.json');
    writeFileSync(config, JSON.stringify({ extends: '../../tsconfig.json', include: ['./*.ts'], compilerOptions: { noEmit: true } }));
    const result = await run(process.execPath, [tsc, '-p', config], { cwd: root });
    assert.equal(result.code, 0, `tsc failed on the examples:\n${locate(result.output)}`);
  });

  for (const example of examples) {
    it(`runs the example at ${example.source}:${example.line}`, async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'revocable-tsdoc-'));
      try {
        const result = await run(process.execPath, ['--import', tsx, example.file], {
          cwd,
          env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
        });
        const how = result.signal === 'SIGKILL' ? 'did not exit within 60 s' : `exited with ${result.code ?? result.signal}`;
        assert.equal(result.code, 0, `the example at ${example.source}:${example.line} ${how}:\n${locate(result.output)}`);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});
