/**
 * Real engine servers for the cluster storm, the benchmarks and the tests: Debian's `redis-server`
 * and `etcd`, each started on a free loopback port with its data in a temporary folder, awaited
 * until it answers, and stopped by its PID.
 *
 * Nothing here sends traffic beyond 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type EngineName = 'redis' | 'etcd';

const binaries: Record<EngineName, { binary: string; install: string }> = {
  redis: { binary: 'redis-server', install: 'apt-get install redis-server' },
  etcd: { binary: 'etcd', install: 'apt-get install etcd-server' },
};

function which(binary: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/usr/local/bin'])) {
    const path = join(dir, binary);
    if (dir !== '' && existsSync(path)) return path;
  }
  return undefined;
}

/** The server binary's path, or undefined when it is not installed. */
export function binaryOf(engine: EngineName): string | undefined {
  return which(binaries[engine].binary);
}

/** What to run to install the engine's server. */
export function installHint(engine: EngineName): string {
  return binaries[engine].install;
}

/**
 * Why a suite on `engine` cannot run here, or `false` when it can. In CI (`CI=true`) a missing
 * server is an error: the suite must not pass by skipping.
 */
export function skipEngine(engine: EngineName): string | false {
  if (binaryOf(engine) !== undefined) return false;
  const message = `no ${binaries[engine].binary} on this machine (${installHint(engine)}; .ci/run does)`;
  if (process.env['CI'] === 'true' || process.env['CI'] === '1') throw new Error(`CI must install ${binaries[engine].binary}: ${message}`);
  return message;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One line over TCP, for a readiness probe: resolves with what came back, or '' on error. */
function probe(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (): void => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(500, done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\n')) done();
    });
  });
}

export interface EngineServer {
  readonly engine: EngineName;
  readonly port: number;
  /** `redis://127.0.0.1:port` or `http://127.0.0.1:port`. */
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM by PID, SIGKILL after 5 s) and starts it again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server, keeping its data folder for a restart. */
  halt(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a halted server again. */
  resume(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Redis: `appendonly yes` (with `appendfsync always`), so that state survives a restart. */
  appendonly?: boolean;
}

/** Starts `engine`'s server on a free loopback port; resolves once it answers. */
export async function startServer(engine: EngineName, options: StartOptions = {}): Promise<EngineServer> {
  const binary = binaryOf(engine);
  if (binary === undefined) throw new Error(`no ${binaries[engine].binary}: ${installHint(engine)}`);
  // A memory-backed folder where there is one: both servers fsync (etcd on every write, Redis's
  // AOF here on every command), and a shared disk's fsync latency is no part of what is measured.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `revocable-${engine}-`));
  const port = await freePort();
  const peerPort = engine === 'etcd' ? await freePort() : 0;
  const args =
    engine === 'redis'
      ? ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log'),
         ...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])]
      : ['--name', 'revocable', '--data-dir', join(dir, 'data'),
         '--listen-client-urls', `http://127.0.0.1:${port}`, '--advertise-client-urls', `http://127.0.0.1:${port}`,
         '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
         '--initial-cluster', `revocable=http://127.0.0.1:${peerPort}`, '--log-level', 'error', '--logger', 'zap'];
  let child: ChildProcess | undefined;
  let log = '';

  const ready = async (): Promise<boolean> => {
    if (engine === 'redis') return (await probe(port, 'PING\r\n')).startsWith('+PONG');
    const reply = await probe(port, 'GET /health HTTP/1.0\r\n\r\n');
    return /"health":\s*"true"/.test(reply) || (reply.startsWith('HTTP/1.0 200') && reply.includes('true'));
  };

  const launch = async (): Promise<void> => {
    log = '';
    const started = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    started.stderr?.on('data', (chunk: Buffer) => void (log = (log + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) throw new Error(`${binary} exited with ${started.exitCode}: ${log}`);
      if (await ready()) return;
      await pause(50);
    }
    started.kill('SIGKILL');
    throw new Error(`${binary} did not answer on port ${port} within 20 s: ${log}`);
  };

  const halt = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    process.kill(running.pid as number, signal);
    const timer = setTimeout(() => running.pid !== undefined && running.exitCode === null && process.kill(running.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    engine,
    port,
    url: engine === 'redis' ? `redis://127.0.0.1:${port}` : `http://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async restart({ downMs = 0 } = {}) {
      await halt();
      if (downMs > 0) await pause(downMs);
      await launch();
    },
    halt,
    resume: launch,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
