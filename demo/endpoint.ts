/**
 * The simulated hardware: one small TCP server on loopback per device. It answers reads and writes
 * after a short, seeded latency and sends unsolicited interrupt messages, like a serial device would.
 * `kill()` makes it vanish the way a yanked USB cable does: every connection is cut at once.
 *
 * Protocol, one line per message:
 * - `R <id> <length>` → `D <id> <hex bytes>`   (read)
 * - `W <id> <text>`   → `A <id> <length>`      (write)
 * - `I <seq>`, unsolicited                     (interrupt)
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Random } from './random.js';

export interface EndpointOptions {
  /** Latency of a reply, uniformly between these (milliseconds). */
  latency: readonly [number, number];
  /** Interval between interrupts (milliseconds). */
  interruptEvery: number;
  random: Random;
}

export class Endpoint {
  readonly name: string;
  #server: Server;
  #sockets = new Set<Socket>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #interrupts: ReturnType<typeof setInterval> | undefined;
  #seq = 0;
  #alive = true;
  readonly #options: EndpointOptions;
  port = 0;

  constructor(name: string, options: EndpointOptions) {
    this.name = name;
    this.#options = options;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  get alive(): boolean {
    return this.#alive;
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('endpoint has no port');
    this.port = address.port;
    this.#interrupts = setInterval(() => {
      const line = `I ${++this.#seq}\n`;
      for (const socket of this.#sockets) if (!socket.destroyed) socket.write(line);
    }, this.#options.interruptEvery);
    return this.port;
  }

  #serve(socket: Socket): void {
    if (!this.#alive) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        this.#answer(socket, line);
      }
    });
  }

  #answer(socket: Socket, line: string): void {
    const [kind, id, rest = ''] = line.split(' ', 3) as [string, string, string?];
    let reply: string;
    if (kind === 'R') {
      const length = Math.min(Number(rest) || 0, 64);
      const bytes = Array.from({ length }, (_, i) => ((this.#seq + i) & 0xff).toString(16).padStart(2, '0')).join('');
      reply = `D ${id} ${bytes}\n`;
    } else if (kind === 'W') {
      reply = `A ${id} ${rest.length}\n`;
    } else {
      reply = `E ${id} bad-request\n`;
    }
    const [low, high] = this.#options.latency;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!socket.destroyed) socket.write(reply);
    }, low + this.#options.random.next() * (high - low));
    this.#timers.add(timer);
  }

  /** The cable is yanked: every connection is cut, nothing more is accepted. */
  kill(): void {
    this.#alive = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Plugged back in: accepts connections again. */
  revive(): void {
    this.#alive = true;
  }

  async stop(): Promise<void> {
    this.kill();
    clearInterval(this.#interrupts);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
