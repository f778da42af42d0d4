/**
 * `npm run bench -- http`: requests per second through a drainable server (`manageServer`) against
 * plain `http`, with the same handler and the same client (autocannon), in the same run; then what
 * a SIGTERM under keep-alive load costs each: the requests lost and the time to exit, with the
 * server in a shutdown root against plain `server.close()`.
 *
 * Both servers live in one child process (same JIT, same heap), so the client in this process has
 * the other core. Measurements are short and alternate between the two servers, round after round,
 * so that drift on a shared machine hits both alike; each figure is the median of the rounds.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { manageServer } from '../src/node/index.js';
import { keepAliveLoad } from '../test/fixtures/node/keep-alive-load.js';
import { median, printTable } from './harness.js';

const SERVE = '--serve-http-bench';
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 3);
const CONNECTIONS = 20;
const TARGET = 0.97;

const body = 'hello world';
const handler: http.RequestListener = (_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(body);
};

/** The child: both servers on loopback, ports on stdout; exits when stdin closes. */
async function serve(): Promise<void> {
  const plain = http.createServer(handler);
  const managed = manageServer(http.createServer(handler), { name: 'bench' });
  const ports: number[] = [];
  for (const server of [plain, managed.server]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    ports.push((server.address() as AddressInfo).port);
  }
  console.log(JSON.stringify({ plain: ports[0], managed: ports[1] }));
  process.stdin.resume();
  await once(process.stdin, 'end');
  await Promise.all([managed.revoke({ timeout: 1_000 }), new Promise((resolve) => plain.close(resolve))]);
}

async function measure(port: number, seconds: number): Promise<number> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: seconds, expectBody: body });
  if (result.errors > 0 || result.non2xx > 0 || result.mismatches > 0) {
    throw new Error(`bench run failed: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.mismatches} mismatches`);
  }
  return result.requests.total / seconds;
}

export async function run(): Promise<void> {
  await runThroughput();
  await runSigterm();
}

async function runThroughput(): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), SERVE], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const ports = JSON.parse(line) as { plain: number; managed: number };
    // Warm both up (JIT, connection setup) before anything is counted.
    await measure(ports.plain, 1);
    await measure(ports.managed, 1);
    const plain: number[] = [];
    const managed: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always follows the other.
      if (round % 2 === 0) {
        plain.push(await measure(ports.plain, SECONDS));
        managed.push(await measure(ports.managed, SECONDS));
      } else {
        managed.push(await measure(ports.managed, SECONDS));
        plain.push(await measure(ports.plain, SECONDS));
      }
    }
    const ours = median(managed);
    const theirs = median(plain);
    const r = ours / theirs;
    const perRound = managed.map((m, i) => (m / (plain[i] as number)).toFixed(3)).join(', ');
    printTable(`http: requests/s, ${CONNECTIONS} connections, median of ${ROUNDS} alternating ${SECONDS} s rounds (autocannon)`, [
      { name: 'plain http.createServer', value: theirs, unit: 'req/s' },
      {
        name: 'manageServer(http.createServer)',
        value: ours,
        unit: 'req/s',
        note: `${r.toFixed(3)}x plain (target >= ${TARGET}x: ${r >= TARGET ? 'met' : 'NOT met'}); rounds: ${perRound}`,
      },
    ]);
  } finally {
    child.stdin.end();
    if (child.exitCode === null) await once(child, 'exit');
  }
}

const APP = fileURLToPath(new URL('../test/fixtures/node/keep-alive-app.ts', import.meta.url));
const SIGTERM_ROUNDS = Number(process.env.BENCH_HTTP_SIGTERM_ROUNDS ?? 5);

/** One SIGTERM mid-load to the fixture app: requests lost, and milliseconds from the signal to the exit. */
async function sigterm(mode: 'managed' | 'plain'): Promise<{ failed: number; ms: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', APP, mode], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const port = Number(/ready (\d+)/.exec(line)?.[1]);
  const load = keepAliveLoad(port, { connections: CONNECTIONS });
  await load.reached(2_000);
  const exited = once(child, 'exit');
  const start = performance.now();
  child.kill('SIGTERM');
  await exited;
  const ms = performance.now() - start;
  return { failed: (await load.done).failed, ms };
}

export async function runSigterm(): Promise<void> {
  const runs: Record<'managed' | 'plain', { failed: number; ms: number }[]> = { managed: [], plain: [] };
  for (let round = 0; round < SIGTERM_ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? (['plain', 'managed'] as const) : (['managed', 'plain'] as const)) runs[mode].push(await sigterm(mode));
  }
  const row = (name: string, mode: 'managed' | 'plain') => ({
    name,
    value: median(runs[mode].map((r) => r.failed)),
    unit: 'lost',
    note: `lost per round: ${runs[mode].map((r) => r.failed).join(', ')}; SIGTERM to exit: median ${Math.round(median(runs[mode].map((r) => r.ms)))} ms`,
  });
  printTable(`http: SIGTERM under keep-alive load (${CONNECTIONS} connections), requests lost per SIGTERM, median of ${SIGTERM_ROUNDS} rounds`, [
    row('plain server.close()', 'plain'),
    row('shutdownScope + manageServer', 'managed'),
  ]);
}

if (process.argv.includes(SERVE)) await serve();
