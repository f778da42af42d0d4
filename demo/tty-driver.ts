/**
 * The storm's driver: each device is a loopback TCP endpoint standing in for a serial device. Probe
 * connects a managed socket, exposes `/dev/<name>` whose read and write do request/response over the
 * socket, and turns the endpoint's unsolicited messages into interrupt-like events. When the socket
 * drops (the endpoint was killed: the cable was yanked), the driver removes its own device, the way
 * a USB disconnect reaches a kernel driver.
 *
 * The driver also watches for the bugs the library exists to prevent, and counts them:
 * - a use after release: anything touching driver data after the scope released it;
 * - a callback after remove: an interrupt handler or timer running once `remove()` has been called;
 * - a file released twice, or never.
 */
import { connect, type Socket } from 'node:net';
import { DeviceError, type Device, type Driver } from 'revocable/device';
import { manageSocket } from 'revocable/node';

/** What the invariants are measured against. */
export interface Violations {
  useAfterRelease: string[];
  callbackAfterRemove: string[];
  doubleRelease: string[];
}

export interface DriverStats {
  interrupts: number;
  opens: number;
  releases: number;
}

/** Driver data: valid from probe until the scope releases it. */
interface TtyData {
  readonly name: string;
  alive: boolean;
  removed: boolean;
  nextId: number;
  readonly pending: Map<number, { resolve(line: string): void; reject(error: unknown): void }>;
  readonly socket: Socket;
}

export interface TtyDriverOptions {
  /** Called when the driver finds its device gone (the socket dropped); it must not be awaited here. */
  lost(device: Device): void;
  violations: Violations;
  stats: DriverStats;
}

function connectTo(port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true, signal });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', (error) => reject(new DeviceError('ENODEV', `endpoint on port ${port} is gone: ${error.message}`)));
  });
}

export function ttyDriver(options: TtyDriverOptions): Driver {
  const { violations, stats } = options;
  const touch = (data: TtyData, what: string): void => {
    if (!data.alive) violations.useAfterRelease.push(`${data.name}: ${what}`);
  };

  const request = (data: TtyData, line: string, signal: AbortSignal): Promise<string> => {
    touch(data, 'request');
    if (signal.aborted) return Promise.reject(new DeviceError('EIO', `${data.name}: kicked`));
    const id = data.nextId++;
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        data.pending.delete(id);
        reject(new DeviceError('EIO', `${data.name}: kicked by revoke`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      data.pending.set(id, {
        resolve: (reply) => {
          signal.removeEventListener('abort', onAbort);
          resolve(reply);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      data.socket.write(`${line.replace('#', String(id))}\n`);
    });
  };

  return {
    name: 'loopback-tty',
    match: (device) => device.properties['kind'] === 'tty',

    async probe(device) {
      const port = device.properties['port'] as number;
      const abort = device.managed.abortController();
      const socket = await connectTo(port, abort.signal);
      const data: TtyData = { name: device.name, alive: true, removed: false, nextId: 1, pending: new Map(), socket };
      // Released last (added first): driver data outlives everything that uses it.
      device.managed.adopt(data, (d) => {
        for (const pending of d.pending.values()) pending.reject(new DeviceError('EIO', `${d.name}: device gone`));
        d.pending.clear();
        d.alive = false;
      });
      device.managed.use(manageSocket(socket, { name: `${device.name} socket`, grace: 200 }));
      device.data = data;

      let buffered = '';
      device.managed.listener(socket, 'data', (chunk: Buffer) => {
        touch(data, 'data handler');
        if (data.removed) violations.callbackAfterRemove.push(`${data.name}: data handler`);
        buffered += chunk.toString('latin1');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const [kind, id, rest = ''] = buffered.slice(0, newline).split(' ', 3) as [string, string, string?];
          buffered = buffered.slice(newline + 1);
          if (kind === 'I') {
            stats.interrupts++; // the interrupt handler
          } else {
            const pending = data.pending.get(Number(id));
            data.pending.delete(Number(id));
            pending?.resolve(kind === 'A' ? rest : rest);
          }
        }
      });
      device.managed.listener(socket, 'close', () => {
        touch(data, 'close handler');
        // The hardware vanished under a bound driver: remove the device. Asynchronously: awaiting
        // the removal here would wait for this very callback to end.
        options.lost(device);
      });

      device.managed.node(`/dev/${device.name}`, {
        open() {
          touch(data, 'open');
          stats.opens++;
        },
        read: async (file, length: unknown) => {
          const reply = await request(data, `R # ${Number(length) || 8}`, file.signal);
          touch(data, 'read completion');
          return reply;
        },
        write: async (file, text: unknown) => {
          const reply = await request(data, `W # ${String(text)}`, file.signal);
          touch(data, 'write completion');
          return Number(reply);
        },
        release(file) {
          touch(data, 'release');
          const state = file.private as { released?: boolean } | undefined;
          if (state?.released) violations.doubleRelease.push(`${data.name}: file released twice`);
          file.private = { released: true };
          stats.releases++;
        },
      });
    },

    remove(device) {
      const data = device.data as TtyData;
      touch(data, 'remove');
      data.removed = true;
    },
  };
}
