/**
 * A managed `net.Socket` (or `tls.TLSSocket`): a revoke drains the accesses in flight, then ends
 * the socket gracefully, so what was written before the revoke reaches the peer.
 *
 * Invariants:
 * 1. The release is `socket.end()`: everything written is flushed, then a FIN. The revoke resolves
 *    when the socket has closed.
 * 2. If the socket has not closed `grace` ms after the end (a peer that never reads or never
 *    closes its side), it is destroyed; `forced` says so.
 * 3. A socket already destroyed releases at once.
 *
 * @module
 */
import { Socket } from 'node:net';
import { checkDuration } from '../internal/validate.js';
import { ManagedResource, managedOptions, readManagedOptions, type ManagedOptions } from './managed.js';
import { checkInstance, once } from './internal/util.js';

/** Options of {@link manageSocket}. */
export interface ManagedSocketOptions extends ManagedOptions {
  /** Milliseconds between `end()` and `destroy()` when the socket does not close. Default: 5000. */
  grace?: number;
}

/**
 * A socket that ends gracefully when revoked. Create it with {@link manageSocket}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import net from 'node:net';
 * import { manageSocket } from 'revocable/node';
 *
 * let received = '';
 * const peer = net.createServer((s) => s.setEncoding('utf8').on('data', (data: string) => (received += data)).on('end', () => s.end()));
 * await once(peer.listen(0, '127.0.0.1'), 'listening');
 * const socket = manageSocket(net.connect((peer.address() as net.AddressInfo).port, '127.0.0.1'), { grace: 1_000 });
 * await socket.with((s) => s.write('bye\n'));
 * await socket.revoke(); // 'bye' flushed, FIN sent, closed (destroyed after 1 s if the peer hangs)
 * assert.equal(received, 'bye\n');
 * peer.close();
 * ```
 */
export class ManagedSocket<S extends Socket = Socket> extends ManagedResource<S> {
  #forced = false;

  readonly #grace: number;

  constructor(socket: S, options?: ManagedSocketOptions) {
    checkInstance(socket, Socket, 'a net.Socket', 'socket');
    const settings = readManagedOptions(options);
    const grace = checkDuration(options?.grace, 'options.grace', 5_000);
    super(socket, managedOptions(settings));
    this.#grace = grace;
  }

  protected override async releaseResource(socket: S): Promise<void> {
    if (socket.destroyed) return;
    const closed = once(socket, 'close', this.#grace);
    socket.end();
    if (await closed) return;
    this.#forced = true;
    const gone = once(socket, 'close', Infinity);
    socket.destroy();
    await gone;
  }

  /** Whether the release had to destroy the socket after `grace`. */
  get forced(): boolean {
    return this.#forced;
  }
}

/**
 * Manages a connected (or connecting) socket: see {@link ManagedSocket}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import net from 'node:net';
 * import { manageSocket } from 'revocable/node';
 *
 * const peer = net.createServer((s) => s.resume().on('end', () => s.end())); // a server that closes when told
 * await once(peer.listen(0, '127.0.0.1'), 'listening');
 * const upstream = manageSocket(net.connect((peer.address() as net.AddressInfo).port, '127.0.0.1'), { name: 'redis', grace: 500 });
 * await upstream.revoke();
 * assert.equal(upstream.forced, false); // ended gracefully, not destroyed
 * peer.close();
 * ```
 */
export function manageSocket<S extends Socket>(socket: S, options?: ManagedSocketOptions): ManagedSocket<S> {
  return new ManagedSocket(socket, options);
}
