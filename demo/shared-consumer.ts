/**
 * The consumers of `npm start -- --workers N`, in one worker thread. The main thread owns the
 * devices; for each one plugged it posts a `SharedRevocable` ref, the endpoint's port and the
 * device's "alive" word (cleared by the release in the main thread). This thread attaches with a
 * view of its own: its own TCP connection to the endpoint. Its consumers read and write through
 * `with()`, checking the alive word before and after every `await` inside the access: a zero there
 * is a use after release.
 */
import { connect, type Socket } from 'node:net';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { SharedRevocable, type SharedRevocableRef } from 'revocable/shared';
import { Random } from './random.js';

export interface Plug {
  type: 'plug';
  name: string;
  ref: SharedRevocableRef;
  port: number;
  alive: SharedArrayBuffer;
}

/** What a worker reports at the end. */
export interface ConsumerReport {
  threadId: number;
  completed: number;
  refused: Record<string, number>;
  kicked: number;
  attached: number;
  usesAfterRelease: string[];
}

/** This thread's view of a device: its own connection, with request/response over it. */
class Line {
  readonly #socket: Socket;
  readonly #pending = new Map<number, { resolve(reply: string): void; reject(error: Error): void }>();
  #next = 1;
  #buffered = '';
  #closed = false;

  constructor(port: number) {
    this.#socket = connect({ port, host: '127.0.0.1', noDelay: true });
    this.#socket.on('error', () => {});
    this.#socket.on('close', () => this.#fail('EIO'));
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffered += chunk.toString('latin1');
      let newline: number;
      while ((newline = this.#buffered.indexOf('\n')) >= 0) {
        const [kind, id, rest = ''] = this.#buffered.slice(0, newline).split(' ', 3) as [string, string, string?];
        this.#buffered = this.#buffered.slice(newline + 1);
        if (kind === 'I') continue; // interrupts are the driver's business
        const pending = this.#pending.get(Number(id));
        this.#pending.delete(Number(id));
        pending?.resolve(rest);
      }
    });
  }

  request(line: string, signal: AbortSignal): Promise<string> {
    if (this.#closed) return Promise.reject(coded('EIO', 'line closed'));
    if (signal.aborted) return Promise.reject(coded('EIO', 'kicked'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(coded('EIO', 'kicked by revoke'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (reply) => (signal.removeEventListener('abort', onAbort), resolve(reply)),
        reject: (error) => (signal.removeEventListener('abort', onAbort), reject(error)),
      });
      this.#socket.write(`${line.replace('#', String(id))}\n`);
    });
  }

  #fail(code: string): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(coded(code, 'connection closed'));
    this.#pending.clear();
  }

  close(): void {
    this.#closed = true;
    this.#socket.destroy();
  }
}

const coded = (code: string, message: string): Error => Object.assign(new Error(message), { code });
const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'other';
};
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Device {
  readonly name: string;
  readonly shared: SharedRevocable<Line>;
  readonly alive: Int32Array;
}

function main(): void {
  const port = parentPort as NonNullable<typeof parentPort>;
  const { consumers, seed } = workerData as { consumers: number; seed: number };
  const random = new Random(seed);
  const devices = new Map<string, Device>();
  const report: ConsumerReport = { threadId, completed: 0, refused: {}, kicked: 0, attached: 0, usesAfterRelease: [] };
  const refuse = (code: string): void => void (report.refused[code] = (report.refused[code] ?? 0) + 1);
  let running = true;

  /** Lets go of a device whose revoke this thread has seen: nothing of this thread is inside. */
  const drop = (device: Device): void => {
    if (devices.get(device.name) !== device) return;
    devices.delete(device.name);
    device.shared.tryWith((line) => line.close()); // refused once revoked: then the line is closed below
  };

  const consumer = async (random: Random): Promise<void> => {
    while (running) {
      const list = [...devices.values()];
      if (list.length === 0) {
        await pause(2);
        continue;
      }
      const device = random.pick(list);
      const check = (where: string): void => {
        if (Atomics.load(device.alive, 0) !== 1) report.usesAfterRelease.push(`${device.name} in thread ${threadId}: ${where}`);
      };
      try {
        await device.shared.with(async (line, signal) => {
          check('entering');
          const operations = random.int(1, 4);
          for (let k = 0; k < operations; k++) {
            const reply = await (random.next() < 0.5 ? line.request(`R # 8`, signal) : line.request(`W # hello ${k}`, signal));
            check('after a reply');
            if (reply !== undefined) report.completed++;
            if (random.next() < 0.3) await pause(random.int(1, 10)); // hold the access, maybe across an unplug
            check('after a pause');
          }
        });
      } catch (error) {
        const code = codeOf(error);
        refuse(code);
        if (code === 'ENODEV' || device.shared.revoked) {
          if (device.shared.revoked) report.kicked += code === 'EIO' ? 1 : 0;
          drop(device);
        }
        await pause(random.int(1, 3));
      }
    }
  };

  port.on('message', (message: Plug | { type: 'stop' }) => {
    if (message.type === 'plug') {
      const line = new Line(message.port);
      let shared: SharedRevocable<Line>;
      try {
        shared = SharedRevocable.attach(message.ref, line);
      } catch (error) {
        line.close();
        refuse(codeOf(error)); // unplugged before this thread heard of it
        return;
      }
      report.attached++;
      const device: Device = { name: message.name, shared, alive: new Int32Array(message.alive) };
      const previous = devices.get(message.name);
      if (previous !== undefined) drop(previous);
      devices.set(message.name, device);
      // The kick: close this thread's line once the revoke reaches it.
      const signal = shared.tryWith((_line, s) => s);
      signal?.addEventListener('abort', () => line.close(), { once: true });
    } else {
      running = false;
      void done.then(() => port.postMessage({ type: 'report', report }));
    }
  });

  const done = Promise.all(Array.from({ length: consumers }, () => consumer(random.fork()))).then(() => {
    for (const device of devices.values()) device.shared.tryWith((line) => line.close());
  });
  port.postMessage({ type: 'ready' });
}

main();
