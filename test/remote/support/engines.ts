/**
 * The engines the remote suite runs on, side by side from one source: each suite file loops over
 * `engines` and runs the same tests against Redis and etcd. What differs is written down here, as
 * data: the shortest lease the tests use, and the documented bound on how late after a holder's
 * lease expiry a revoke may resolve.
 */
import { after } from 'node:test';
import { skipEngine, startServer, type EngineName, type EngineServer, type StartOptions } from '../../../demo/cluster-servers.js';
import { connect, type ConnectOptions, type Connection } from '../../fixtures/remote/connect.js';

export interface Engine {
  readonly name: EngineName;
  /** Why the suite cannot run here, or false. Throws in CI when the server is missing. */
  readonly skip: string | false;
  /** The lease the tests use: short, so that expiry tests are quick (etcd's minimum is 2 s). */
  readonly leaseMs: number;
  /**
   * How late after a killed holder's lease expiry a revoke may resolve. Redis: the revoker polls
   * at the next expiry, so the 100 ms bound is a round trip plus generous room for a loaded
   * machine. etcd: its leader expires leases every 500 ms, so lease + 600 ms.
   */
  readonly expiryBoundMs: number;
  /** Whether a watch resumes from a revision after a reconnect (no event lost): etcd's do. */
  readonly watchResumes: boolean;
}

export const engines: readonly Engine[] = [
  { name: 'redis', skip: skipEngine('redis'), leaseMs: 1000, expiryBoundMs: 100, watchResumes: false },
  { name: 'etcd', skip: skipEngine('etcd'), leaseMs: 2000, expiryBoundMs: 600, watchResumes: true },
];

// The etcd3 client keeps a process alive after close(): whenever a client's last watch ends, it
// destroys its watch stream, treats that as an error and arms a reconnect timer (its backoff grows
// to 30 s) that close() does not clear. So the timers made while the file runs are remembered
// until they fire or are cleared, and once every cleanup is done, those left are unref'd: the file
// then exits by itself, after its test report (a process.exit() would cut the report short).
const pendingTimers = new Set<NodeJS.Timeout>();
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const trackedSetTimeout = function (this: unknown, callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout {
  const timer = realSetTimeout((...given: unknown[]) => {
    pendingTimers.delete(timer);
    callback(...given);
  }, ms, ...args);
  pendingTimers.add(timer);
  return timer;
};
Object.defineProperties(trackedSetTimeout, Object.getOwnPropertyDescriptors(realSetTimeout)); // util.promisify.custom among them
globalThis.setTimeout = trackedSetTimeout as typeof setTimeout;
globalThis.clearTimeout = ((timer?: NodeJS.Timeout | string | number) => {
  if (typeof timer === 'object') pendingTimers.delete(timer);
  realClearTimeout(timer);
}) as typeof clearTimeout;

const shared = new Map<EngineName, Promise<EngineServer>>();
/** Everything to stop when the file's tests are over, newest first. */
const cleanups: (() => Promise<unknown> | unknown)[] = [];
// Registered at load, so it is the file's own hook: one registered inside a test would be that
// test's, or none at all.
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const timer of pendingTimers) timer.unref();
  pendingTimers.clear();
  // Once the loop is empty and 'exit' has run (the test report is written by then: stdout is a
  // pipe, written synchronously), end the process there. Node's own teardown after 'exit' was
  // seen to spin forever in this suite's files (Environment::CleanupHandles waiting on a request
  // that never completes, after the TCP proxy's resets), which would hang CI after a passing file.
  // process.exit() inside 'exit' skips that teardown and keeps the exit code.
  process.once('exit', () => process.exit());
  // Should anything else still hold the file open (seen on a loaded machine: the pipes of a
  // server's stdio, an interval of a client's), say what, and exit with the file's own exit code
  // rather than stall CI: every test has finished by now. This timer is unref'd too: it never
  // fires when the process can exit by itself.
  realSetTimeout(() => {
    process.stderr.write(`remote suite: still open after cleanup, exiting: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
    process.exit();
  }, 2_000).unref();
});

/** Runs `cleanup` after the file's tests (servers, connections, child processes). */
export function atEnd(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup);
}

/** The file's server for `engine`, started on first use and stopped after the file's tests. */
export function sharedServer(engine: EngineName): Promise<EngineServer> {
  let server = shared.get(engine);
  if (server === undefined) {
    server = startServer(engine);
    shared.set(engine, server);
    const started = server;
    atEnd(async () => (await started).stop());
  }
  return server;
}

/** A server of the test's own, for a test that restarts, stops or disturbs it. */
export async function ownServer(engine: EngineName, options?: StartOptions): Promise<EngineServer> {
  const server = await startServer(engine, options);
  atEnd(() => server.stop());
  return server;
}

/** A connection closed after the file's tests. */
export async function connection(engine: EngineName, url: string, options?: ConnectOptions): Promise<Connection> {
  const opened = await connect(engine, url, options);
  atEnd(() => opened.close());
  return opened;
}

let counter = 0;
/** A resource name no other test uses (revocation is for good, so each test takes its own). */
export function uniqueName(what: string): string {
  return `${what}:${process.pid}:${++counter}`;
}
