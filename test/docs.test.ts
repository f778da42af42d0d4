/**
 * The docs cannot rot. Every fenced block of README.md and docs/**\/*.md whose language is `ts` or
 * `js` runs here as a standalone ES module, and all of them are type-checked together; every
 * relative link must reach a file (and a heading, for an anchor into Markdown).
 *
 * Invariants:
 * 1. No block is skipped: a fence whose info string starts with `ts` or `js` (its first word is
 *    `ts`, `js`, `typescript`, `javascript`, `mts`, `mjs`, `cts`, `cjs`, `tsx` or `jsx`) runs, whatever
 *    else the info string says. `sh` and `text` blocks are commands and output, and do not run.
 * 2. A block is written to `test/.docs/<file>-line-<n>.ts` (inside the repository, so that
 *    `revocable`, `revocable/node`, ... resolve to the sources through tsconfig's paths), run with
 *    `node --import tsx` in a process group of its own, and passes when it exits 0 by itself within
 *    60 s; past that the whole group is killed. The failure names the Markdown file and line.
 * 3. One `tsc --noEmit` checks every extracted block, through a generated tsconfig in `test/.docs/`
 *    that extends the root one and includes those files only.
 * 4. Generated files are removed after the suite, pass or fail.
 * 5. Anchors follow GitHub's slugs: the heading's text, lower-cased, with punctuation and symbols
 *    removed and each space a hyphen; a repeated slug gets `-1`, `-2`, ... (ATX headings and
 *    `<a id>`/`<a name>` anchors; a setext heading is not an anchor here).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { after, describe, it } from 'node:test';
import './support/leaks.js';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'test', '.docs');
const runnable = new Set(['ts', 'js', 'typescript', 'javascript', 'mts', 'mjs', 'cts', 'cjs', 'tsx', 'jsx']);
const BLOCK_TIMEOUT_MS = 60_000;
const README_MAX_LINES = 250;

interface Fence {
  /** The info string after the opening fence, trimmed. */
  readonly info: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** 1-based line of the closing fence. */
  readonly end: number;
  readonly code: string;
}

/** The Markdown files under test, relative to the repository with `/` separators. */
function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
  return ['README.md', ...(existsSync(join(root, 'docs')) ? walk('docs').sort() : [])];
}

/**
 * Fenced code blocks, CommonMark style: a run of three or more backticks or tildes (indented, as
 * inside a list item, or not), closed by a run of the same character at least as long. An
 * unclosed fence is an error rather than a block that silently swallows the rest of the file.
 */
function fences(file: string, text: string): Fence[] {
  const lines = text.split('\n');
  const found: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, indent = '', marker = '', rest = ''] = open;
    if (marker[0] === '`' && rest.includes('`')) continue; // an inline code span, not a fence
    const close = new RegExp(`^\\s*${marker[0] === '`' ? '`' : '~'}{${marker.length},}\\s*$`);
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j] ?? '')) j++;
    assert.ok(j < lines.length, `${file}:${i + 1}: the fence opened here is never closed`);
    const strip = (line: string): string => line.replace(new RegExp(`^ {0,${indent.length}}`), '');
    found.push({ info: rest.trim(), line: i + 1, end: j + 1, code: lines.slice(i + 1, j).map(strip).join('\n') });
    i = j;
  }
  return found;
}

const languageOf = (info: string): string => (info.split(/\s+/)[0] ?? '').toLowerCase();

/** The text with fenced blocks and inline code blanked out, line numbers kept. */
function prose(file: string, text: string): string[] {
  const lines = text.split('\n');
  for (const fence of fences(file, text)) for (let n = fence.line; n <= fence.end; n++) lines[n - 1] = '';
  return lines.map((line) => line.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, ''));
}

/** GitHub's anchor for a heading's Markdown text. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`/g, '');
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file offers. */
function anchors(file: string, text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const lines = text.split('\n');
  const inFence = new Set<number>();
  for (const fence of fences(file, text)) for (let n = fence.line; n <= fence.end; n++) inFence.add(n - 1);
  lines.forEach((line, index) => {
    if (inFence.has(index)) return;
    for (const match of line.matchAll(/<a\s+(?:[^>]*\s)?(?:id|name)="([^"]+)"/g)) result.add(match[1] ?? '');
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading === null) return;
    const base = slug(heading[1] ?? '');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  });
  return result;
}

/** Relative link targets with their lines: inline links and images, reference definitions, HTML. */
function links(file: string, text: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  prose(file, text).forEach((line, index) => {
    const add = (target: string | undefined): void => {
      if (target === undefined || target === '') return;
      if (/^[a-z][a-z\d+.-]*:/i.test(target) || target.startsWith('//')) return; // a URL
      found.push({ target, line: index + 1 });
    };
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) add(match[1]);
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$/.exec(line);
    if (definition !== null) add(definition[1]);
    for (const match of line.matchAll(/\s(?:href|src)="([^"]+)"/g)) add(match[1]);
  });
  return found;
}

/** The file a block is written to: `docs/recipes/worker-pool.md` line 12 → `docs-recipes-worker-pool-line-12.ts`. */
const blockFile = (file: string, line: number): string => join(out, `${file.replace(/\.md$/, '').replaceAll('/', '-')}-line-${line}.ts`);

interface Block {
  readonly file: string;
  readonly line: number;
  readonly path: string;
}

const files = markdownFiles();
const texts = new Map(files.map((file) => [file, readFileSync(join(root, file), 'utf8')]));
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
after(() => rmSync(out, { recursive: true, force: true }));

const blocks: Block[] = [];
for (const [file, text] of texts) {
  for (const fence of fences(file, text)) {
    if (!runnable.has(languageOf(fence.info))) continue;
    const path = blockFile(file, fence.line);
    writeFileSync(path, `${fence.code}\nexport {};\n`);
    blocks.push({ file, line: fence.line, path });
  }
}
writeFileSync(
  join(out, 'tsconfig.json'),
  `${JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noEmit: true }, include: ['*.ts'] }, null, 2)}\n`,
);

/** Runs a command in a process group of its own; the group is killed at the deadline or on abort. */
function run(args: string[], timeoutMs: number, signal: AbortSignal): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolvePromise, reject) => {
    // A block runs as a reader would run it: not as a file of this test run (a block that starts
    // a test run of its own must get the runner's own output, not the protocol for a parent).
    const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
    const child = spawn(process.execPath, args, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL'); // the block and whatever it spawned
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    signal.addEventListener('abort', kill, { once: true });
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', kill);
      kill(); // a grandchild the block left behind dies with its group
      resolvePromise({ code, output, timedOut });
    });
  });
}

/** The end of a long output: where a failure is. */
const tail = (text: string): string => (text.length > 6000 ? `...\n${text.slice(-6000)}` : text);

describe('the code blocks of the README and the guides', () => {
  it('has blocks to run, and none is marked to skip', (t) => {
    const counts = files.map((file) => `${file}: ${blocks.filter((b) => b.file === file).length}`);
    t.diagnostic(`blocks run per file: ${counts.join(', ')}`);
    assert.ok(blocks.some((b) => b.file === 'README.md'), 'README.md has a block of the core to run');
    assert.ok(blocks.length >= 25, `only ${blocks.length} blocks found`);
    const skipped = [...texts].flatMap(([file, text]) =>
      fences(file, text).filter((f) => runnable.has(languageOf(f.info)) && /\bskip\b/.test(f.info)).map((f) => `${file}:${f.line}`),
    );
    assert.deepEqual(skipped, [], 'a block that cannot run does not belong in a ts or js fence');
  });

  describe('each block runs to the end and exits 0 by itself', { concurrency: availableParallelism() }, () => {
    for (const block of blocks) {
      it(`runs the block at ${block.file}:${block.line}`, { timeout: BLOCK_TIMEOUT_MS + 10_000 }, async (t) => {
        const result = await run(['--import', 'tsx', block.path], BLOCK_TIMEOUT_MS, t.signal);
        const where = `${block.file}:${block.line} (${relative(root, block.path)})`;
        assert.ok(!result.timedOut, `${where} did not exit within ${BLOCK_TIMEOUT_MS / 1000} s:\n${tail(result.output)}`);
        assert.equal(result.code, 0, `${where} exited with ${result.code}:\n${tail(result.output)}`);
      });
    }
  });

  it('type-checks every block together in one tsc --noEmit', { timeout: 300_000 }, async (t) => {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run([tsc, '--noEmit', '-p', relative(root, join(out, 'tsconfig.json'))], 240_000, t.signal);
    // Point each error at the Markdown line it comes from: block line n is fence line + n.
    const located = result.output.replace(/test\/\.docs\/([\w.-]+)-line-(\d+)\.ts\((\d+),(\d+)\)/g, (match, name: string, fence: string, row: string, column: string) => {
      const file = files.find((f) => f.replace(/\.md$/, '').replaceAll('/', '-') === name);
      return file === undefined ? match : `${file}:${Number(fence) + Number(row)}:${column} (${match})`;
    });
    assert.ok(!result.timedOut, `tsc did not finish:\n${tail(located)}`);
    assert.equal(result.code, 0, `tsc found errors in the docs' blocks:\n${tail(located)}`);
  });
});

describe('the links of the README and the guides', () => {
  it('every relative link reaches an existing file, and every anchor a heading there', () => {
    const broken: string[] = [];
    for (const [file, text] of texts) {
      for (const { target, line } of links(file, text)) {
        const hash = target.indexOf('#');
        const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
        const absolute = pathPart === '' ? join(root, file) : pathPart.startsWith('/') ? join(root, pathPart) : resolve(root, dirname(file), pathPart);
        const inRepo = relative(root, absolute);
        const where = `${file}:${line}: \`${target}\``;
        if (inRepo.startsWith('..') || inRepo.split(sep)[0] === '..') {
          broken.push(`${where} leaves the repository`);
          continue;
        }
        const repoPath = inRepo.split(sep).join('/');
        if (!existsSync(absolute)) {
          broken.push(`${where}: no such file ${repoPath}`);
          continue;
        }
        if (anchor === undefined || anchor === '' || extname(absolute) !== '.md') continue;
        const text = texts.get(repoPath) ?? readFileSync(absolute, 'utf8');
        if (!anchors(repoPath, text).has(anchor)) broken.push(`${where}: no heading #${anchor} in ${repoPath}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});

describe('the README', () => {
  it(`has at most ${README_MAX_LINES} lines`, () => {
    const text = texts.get('README.md') ?? '';
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines`);
  });
});
