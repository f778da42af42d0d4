// Model-checks the protocol of revocable/shared with spin: the model must pass (no assertion
// violated, no invalid end state, the whole state space searched) and each deliberate mutant must
// fail. Exit code 1 otherwise. Needs spin and gcc (Debian packages `spin`, `gcc`; .ci/run installs
// spin). Usage: node scripts/check-model.js [models/shared/gate.pml]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const model = resolve(process.argv[2] ?? 'models/shared/gate.pml');
const runs = [
  { name: 'the protocol', define: null, expect: 'pass' },
  { name: 'mutant: a late attach is not biased', define: 'LATE_UNBIASED', expect: 'fail' },
  { name: 'mutant: no notify on the last exit', define: 'NO_NOTIFY', expect: 'fail' },
  { name: 'mutant: check and increment in two steps', define: 'SPLIT_CHECK', expect: 'fail' },
  { name: 'mutant: the swap taken outside the lock', define: 'SWAP_OUTSIDE', expect: 'fail' },
];

const run = (command, args, cwd) =>
  new Promise((done, fail) => {
    const child = spawn(command, args, { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => fail(new Error(`${command}: ${error.message}`)));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });

/** Checks one configuration; returns whether it came out as expected, with its line of report. */
async function checkOne({ name, define, expect }) {
  const dir = mkdtempSync(join(tmpdir(), 'revocable-spin-'));
  try {
    const started = Date.now();
    const generate = await run('spin', ['-a', ...(define ? [`-D${define}`] : []), model], dir);
    if (generate.status !== 0) throw new Error(`spin -a failed:\n${generate.stdout}${generate.stderr}`);
    const compile = await run('gcc', ['-O2', '-DSAFETY', '-DCOLLAPSE', '-o', 'pan', 'pan.c'], dir);
    if (compile.status !== 0) throw new Error(`gcc failed:\n${compile.stderr}`);
    const check = await run('./pan', ['-m100000'], dir);
    const out = check.stdout;
    const errors = Number(/errors: (\d+)/.exec(out)?.[1] ?? NaN);
    if (Number.isNaN(errors)) throw new Error(`pan gave no verdict:\n${out}${check.stderr}`);
    const truncated = /max search depth too small/.test(out);
    const states = /([\d.e+]+) states, stored/.exec(out)?.[1] ?? '?';
    const found = /(assertion violated[^\n]*|invalid end state[^\n]*)/.exec(out)?.[1]?.trim() ?? '';
    const verdict = errors === 0 && !truncated ? 'pass' : 'fail';
    const good = verdict === expect;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    return { good, line: `${good ? 'ok  ' : 'BAD '} ${name}: ${verdict === 'pass' ? 'no error' : found || 'search incomplete'} (${states} states, ${seconds} s)${good ? '' : `, expected it to ${expect}`}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Two at a time: the protocol's full search is the long one, the mutants fail fast beside it.
const results = new Array(runs.length);
let next = 0;
const worker = async () => {
  while (next < runs.length) {
    const index = next++;
    results[index] = await checkOne(runs[index]);
  }
};
await Promise.all([worker(), worker()]);
for (const { line } of results) console.log(line);
const ok = results.every((result) => result.good);
console.log(ok ? 'model check: the protocol holds and every mutant is caught' : 'model check FAILED');
process.exit(ok ? 0 : 1);
