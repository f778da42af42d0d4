/**
 * A drainable server: `net`, `http` and `https` servers whose revoke stops accepting, lets what
 * is in flight finish, closes idle keep-alive connections without losing a request already on its
 * way, cuts what is still open when the deadline passes, and resolves when every connection is
 * gone.
 *
 * The server is a {@link Revocable} whose accesses are its connections: each accepted connection
 * holds one until it closes, so the core's drain is "every connection gone", and `release` waits for
 * the listening socket's `close`.
 *
 * Invariants:
 * 1. From the first synchronous step of the revoke the server accepts no connection: the listening
 *    socket is closed, and a connection already queued is destroyed on arrival.
 * 2. HTTP: no request that reaches the server is lost. A busy connection is ended (a graceful FIN)
 *    once its last response has been flushed, and that response says `Connection: close` if its
 *    head was not written before the revoke. An idle keep-alive connection stays open until it has
 *    received nothing for `idleGrace` ms (a request may already be on the wire: destroying it at
 *    once loses that request, as Node's own `server.close()` does); a request arriving meanwhile is
 *    served, with `Connection: close`. See `internal/http-connections.ts`.
 * 3. Node's `server.close()` destroys a connection whose response has ended but is still being
 *    flushed, and every idle one: the revoke keeps it from doing either.
 * 4. A request that Node hands to `checkContinue` or `checkExpectation` (when the application
 *    listens to them) is in flight like one handed to `request`.
 * 5. Upgraded connections (`upgrade`, `connect`: websockets, tunnels) are in flight until they
 *    close: they get the kick through `signal` (close them with a close frame there) and are cut at
 *    the deadline like the rest.
 * 6. The deadline is `revoke({ timeout })` (default: the `timeout` given at creation): when it
 *    passes, every connection still open is destroyed and listed in {@link ManagedServer.report}
 *    (`graceful: false`); the revoke then resolves as usual. A later revoke with a shorter timeout
 *    brings the deadline forward; `timeout: 0` cuts everything at once.
 *
 * @module
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import type { Access } from '../revocable.js';
import { checkDuration, checkOptionalFunction, checkOptions, expected } from '../internal/validate.js';
import { ManagedResource, managedOptions, readManagedOptions, type ManagedOptions } from './managed.js';
import { makeRequestSignal, isRequestSignalSource, type RequestSignalSource } from './request-signal.js';
import { HttpConnections, type CutRequest } from './internal/http-connections.js';
import { draining, reportCut, type DrainingServer } from './internal/drain-watch.js';
import { checkInstance, checkOptionalBoolean, warn } from './internal/util.js';

export type { CutRequest } from './internal/http-connections.js';

/** Options of {@link manageServer}. */
export interface ManagedServerOptions extends ManagedOptions {
  /**
   * HTTP: milliseconds an idle keep-alive connection stays open once the revoke has started, for a
   * request that may already be on its way (served with `Connection: close`). Any byte received
   * starts it again; the deadline (`timeout`) bounds it. Default: 1000. `Infinity`: until the
   * deadline.
   */
  idleGrace?: number;
  /**
   * Plain `net` servers only: what the kick does to each open connection. Default: `socket.end()`
   * (a graceful FIN after what was written). HTTP servers have their own kick and ignore this.
   */
  kick?: (socket: Socket) => void;
}

/** Options of {@link ManagedServer.requestSignal}. */
export interface RequestSignalOptions<T = unknown> {
  /** Also abort when this resource is revoked (a `Revocable`, a handle, or any `AbortSignal`). */
  resource?: RequestSignalSource<T>;
  /**
   * Abort at the server's kick (the revoke's start: "wrap up"). Default: `true`. Pass `false` for
   * work that should run to its end within the deadline.
   */
  kick?: boolean;
}

/** How a server's revoke went. */
export interface ServerDrainReport {
  /** True when every connection closed by itself before the deadline. */
  readonly graceful: boolean;
  /** HTTP requests and upgraded connections still open at the deadline, now cut. */
  readonly cut: readonly CutRequest[];
  /** How many connections were destroyed at the deadline (with or without a request on them). */
  readonly destroyed: number;
  /** Milliseconds from the revoke to the last connection gone. */
  readonly duration: number;
}

type Drain =
  | { readonly kind: 'live' }
  | { readonly kind: 'draining'; readonly start: number; deadline: number; timer: ReturnType<typeof setTimeout> | undefined }
  | { readonly kind: 'cut'; readonly start: number; readonly cut: CutRequest[]; readonly destroyed: number };

const LIVE: Drain = { kind: 'live' };

/**
 * A `net.Server`, `http.Server` or `https.Server` whose revoke drains its connections. Create it
 * with {@link manageServer}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { manageServer } from 'revocable/node';
 *
 * let arrived!: () => void;
 * const inHandler = new Promise<void>((resolve) => (arrived = resolve));
 * const server = manageServer(http.createServer((_req, res) => { arrived(); setImmediate(() => res.end('done')); }), { timeout: 10_000 });
 * await once(server.server.listen(0, '127.0.0.1'), 'listening');
 * const response = fetch(`http://127.0.0.1:${(server.server.address() as { port: number }).port}/`);
 * await inHandler;
 * await server.revoke(); // stop accepting, finish in-flight requests, close the rest
 * assert.equal(await (await response).text(), 'done');
 * assert.deepEqual([server.report?.graceful, server.report?.cut], [true, []]); // and its duration, in ms
 * ```
 */
export class ManagedServer<S extends NetServer = NetServer> extends ManagedResource<S> {
  readonly #server: S;
  /** HTTP bookkeeping; `null` for a plain net server. */
  readonly #http: HttpConnections | null;
  /** Plain http: the TCP socket is the HTTP socket (for https the TLS socket is, made later). */
  readonly #plainHttp: boolean;
  readonly #kickSocket: (socket: Socket) => void;
  /** Every accepted TCP connection and the access it holds until it closes. */
  readonly #connections = new Map<Socket, Access<S>>();
  #drain: Drain = LIVE;
  #report: ServerDrainReport | undefined;
  /** Resolves when the listening socket has closed (its `close` event). */
  #closed: Promise<void> | undefined;
  /** Listeners we added to the server, to take off once released. */
  readonly #listeners: [event: string, listener: (...args: never[]) => void][] = [];
  /** What the shutdown root sees of this server while it drains. */
  readonly #watched: DrainingServer;

  /**
   * @param server a `net.Server`, `http.Server` or `https.Server`, listening or not yet.
   * @param options `name`, `timeout` (the default deadline), `signal`, `idleGrace` (http), `kick` (net).
   */
  constructor(server: S, options?: ManagedServerOptions) {
    checkInstance(server, NetServer, 'a net.Server, http.Server or https.Server', 'server');
    const settings = readManagedOptions(options);
    const kick = options?.kick;
    const idleGrace = options?.idleGrace;
    checkOptionalFunction(kick, 'options.kick');
    const grace = checkDuration(idleGrace, 'options.idleGrace', 1_000);
    if (managed.has(server)) throw new TypeError('Expected `server` to be a server not managed yet, got one that already is');
    super(server, managedOptions(settings));
    managed.add(server);
    this.#server = server;
    const http = server instanceof HttpServer || server instanceof HttpsServer;
    this.#http = http ? new HttpConnections(grace) : null;
    this.#plainHttp = http && !(server instanceof HttpsServer);
    this.#kickSocket = kick ?? endSocket;
    const [httpConnections, tcpConnections] = [this.#http, this.#connections];
    this.#watched = {
      name: settings.name,
      get inFlight() {
        return httpConnections?.inFlight ?? tcpConnections.size;
      },
    };
    this.#listen('connection', (socket: Socket) => this.#onConnection(socket));
    const connections = this.#http;
    if (connections !== null) {
      if (server instanceof HttpsServer) this.#listen('secureConnection', (socket: Socket) => this.#onSecureConnection(connections, socket));
      this.#listen('request', (req: IncomingMessage, res: ServerResponse) => connections.onRequest(req, res), true);
      this.#watchUpgrades(connections);
    }
    this.signal.addEventListener('abort', () => this.#kick(), { once: true });
  }

  /** The server. Use it to `listen`; close it only through the revoke. */
  get server(): S {
    return this.#server;
  }

  /** How many connections are open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /** How the revoke went, once it has resolved; `undefined` before. */
  get report(): ServerDrainReport | undefined {
    return this.#report;
  }

  /**
   * One signal for a request, to pass down to everything the handler starts: aborted at this
   * server's kick (unless `kick: false`), when the client disconnects before the response is
   * complete (a `ClientDisconnectedError`), and when `resource` is revoked. A response that
   * finishes leaves it unaborted, and it then holds no listener on the server or the resource.
   *
   * @example
   * ```ts
   * import assert from 'node:assert/strict';
   * import { once } from 'node:events';
   * import http from 'node:http';
   * import { Revocable } from 'revocable';
   * import { manageServer } from 'revocable/node';
   *
   * const tenant = new Revocable({ query: async (sql: string, _options: { signal: AbortSignal }) => `rows of ${sql}` });
   * const api = manageServer(http.createServer(async (req, res) => {
   *   const signal = api.requestSignal(req, res, { resource: tenant }); // aborts at the kick, a hang-up or the tenant's revoke
   *   res.end(await tenant.with((db) => db.query('select 1', { signal })));
   * }));
   * await once(api.server.listen(0, '127.0.0.1'), 'listening');
   * const response = await fetch(`http://127.0.0.1:${(api.server.address() as { port: number }).port}/`);
   * assert.equal(await response.text(), 'rows of select 1');
   * await api.revoke();
   * ```
   */
  requestSignal<T>(req: IncomingMessage, res: ServerResponse, options?: RequestSignalOptions<T>): AbortSignal {
    checkInstance(req, IncomingMessage, 'an http.IncomingMessage', 'req');
    checkInstance(res, ServerResponse, 'an http.ServerResponse', 'res');
    checkOptions(options);
    const resource = options?.resource;
    const kick = options?.kick;
    if (resource !== undefined && !isRequestSignalSource(resource)) throw expected('a Revocable, a RevocableHandle, an AbortSignal or undefined', 'options.resource', resource);
    checkOptionalBoolean(kick, 'options.kick');
    if (res.req !== req) throw new TypeError('Expected `res` to be the response to `req`, got the response to another request');
    return makeRequestSignal(kick === false ? undefined : this.signal, req, res, resource);
  }

  /** The deadline: the core's drain, with the remaining connections cut when `timeout` passes. */
  protected override drain(timeout: number): Promise<boolean> {
    const done = super.drain(Infinity);
    const drain = this.#drain;
    if (drain.kind === 'draining' && timeout !== Infinity) {
      const deadline = performance.now() + timeout;
      if (deadline < drain.deadline) {
        if (drain.timer !== undefined) clearTimeout(drain.timer);
        drain.deadline = deadline;
        drain.timer = setTimeout(() => this.#cut(), timeout);
      }
    }
    return done;
  }

  #listen(event: string, listener: (...args: never[]) => void, prepend = false): void {
    const server = this.#server as unknown as NodeJS.EventEmitter;
    if (prepend) server.prependListener(event, listener as (...args: unknown[]) => void);
    else server.on(event, listener as (...args: unknown[]) => void);
    this.#listeners.push([event, listener]);
  }

  #onConnection(socket: Socket): void {
    const access = this.tryAccess();
    if (access === null) {
      socket.destroy();
      return;
    }
    this.#connections.set(socket, access);
    if (this.#plainHttp) this.#http?.track(socket);
    socket.once('close', () => {
      this.#connections.delete(socket);
      access.release();
    });
  }

  /** https: the HTTP socket is the TLS one, made once the handshake is done (even mid-drain). */
  #onSecureConnection(connections: HttpConnections, socket: Socket): void {
    if (this.#drain.kind === 'cut') socket.destroy();
    else connections.track(socket);
  }

  /**
   * Events that Node emits instead of `request` only when the server has a listener for them:
   * `upgrade` and `connect` sockets leave HTTP (in flight until they close, never idle), and a
   * request with `Expect: 100-continue` (or another expectation) goes to `checkContinue` (or
   * `checkExpectation`), where it is a request in flight like any other. Ours is present exactly
   * when the application has one: adding it unconditionally would change how Node treats them (an
   * upgrade refused, a request never reaching the `request` handler).
   */
  #watchUpgrades(connections: HttpConnections): void {
    const server = this.#server;
    const markers = new Map<string, (...args: never[]) => void>([
      ['upgrade', (req: IncomingMessage, socket: Socket) => connections.onUpgrade(req, socket)],
      ['connect', (req: IncomingMessage, socket: Socket) => connections.onUpgrade(req, socket)],
      ['checkContinue', (req: IncomingMessage, res: ServerResponse) => connections.onRequest(req, res)],
      ['checkExpectation', (req: IncomingMessage, res: ServerResponse) => connections.onRequest(req, res)],
    ]);
    const sync = (event: string, adding: boolean): void => {
      const listener = markers.get(event) as ((...args: unknown[]) => void) | undefined;
      if (listener === undefined) return;
      const others = server.listeners(event).filter((l) => l !== listener).length + (adding ? 1 : 0);
      const present = server.listeners(event).includes(listener);
      if (others > 0 && !present) server.prependListener(event, listener);
      else if (others === 0 && present) server.removeListener(event, listener);
    };
    this.#listen('newListener', (event: string, listener: unknown) => {
      if (listener !== markers.get(event)) sync(event, true);
    });
    this.#listen('removeListener', (event: string, listener: unknown) => {
      if (listener !== markers.get(event)) sync(event, false);
    });
    for (const [event, listener] of markers) {
      sync(event, false);
      this.#listeners.push([event, listener]);
    }
  }

  /** The kick: runs synchronously in the first step of the revoke. */
  #kick(): void {
    this.#drain = { kind: 'draining', start: performance.now(), deadline: Infinity, timer: undefined };
    draining.add(this.#watched);
    const server = this.#server;
    const connections = this.#http;
    this.#closed = new Promise<void>((resolve) => {
      const onClosed = (): void => resolve();
      if (connections === null) {
        server.close(onClosed);
        return;
      }
      // Node's http close() destroys every idle connection, and counts as idle one whose response
      // has ended but is still being flushed (invariant 3): shadow that step while it runs.
      const own = Object.getOwnPropertyDescriptor(server, 'closeIdleConnections');
      const shadow = Object.isExtensible(server) && (own === undefined || own.configurable === true);
      if (shadow) Object.defineProperty(server, 'closeIdleConnections', { value: noop, configurable: true, writable: true });
      try {
        server.close(onClosed);
      } finally {
        if (shadow) {
          if (own === undefined) delete (server as { closeIdleConnections?: unknown }).closeIdleConnections;
          else Object.defineProperty(server, 'closeIdleConnections', own);
        }
      }
    });
    if (connections !== null) {
      connections.kick();
      return;
    }
    for (const socket of this.#connections.keys()) {
      try {
        this.#kickSocket(socket);
      } catch (error) {
        warn(error);
      }
    }
  }

  /** The deadline: destroy whatever is still open, and record what that cut. */
  #cut(): void {
    const drain = this.#drain;
    if (drain.kind !== 'draining') return;
    const { cut, sockets } = this.#http?.cut() ?? { cut: [], sockets: [] };
    const all = new Set<Socket>([...this.#connections.keys(), ...sockets]);
    const destroyed = this.#connections.size;
    this.#drain = { kind: 'cut', start: drain.start, cut, destroyed };
    if (cut.length > 0) reportCut(this.name, cut);
    for (const socket of all) socket.destroy();
  }

  /** Runs once every connection (access) is gone: wait for the listening socket, then report. */
  protected override async releaseResource(): Promise<void> {
    await this.#closed;
    const drain = this.#drain;
    if (drain.kind === 'draining' && drain.timer !== undefined) clearTimeout(drain.timer);
    const start = drain.kind === 'live' ? performance.now() : drain.start;
    this.#report = {
      graceful: drain.kind !== 'cut',
      cut: drain.kind === 'cut' ? drain.cut : [],
      destroyed: drain.kind === 'cut' ? drain.destroyed : 0,
      duration: performance.now() - start,
    };
    const server = this.#server as unknown as NodeJS.EventEmitter;
    for (const [event, listener] of this.#listeners) server.removeListener(event, listener as (...args: unknown[]) => void);
    this.#listeners.length = 0;
    this.#http?.clear();
    draining.delete(this.#watched);
    managed.delete(this.#server);
  }
}

/** Servers with a ManagedServer attached: two would fight over the same connections. */
const managed = new WeakSet<NetServer>();

const noop = (): void => {};

function endSocket(socket: Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}

/**
 * Makes a server drainable: see {@link ManagedServer}. Attach it before the server accepts
 * connections (those accepted earlier are not tracked).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { manageServer } from 'revocable/node';
 *
 * const api = manageServer(http.createServer((_req, res) => res.end('ok')), { name: 'api', timeout: 10_000 });
 * await once(api.server.listen(0, '127.0.0.1'), 'listening');
 * await api.revoke(); // stops accepting, drains, then closes the listening socket
 * assert.equal(api.server.listening, false);
 * ```
 */
export function manageServer<S extends NetServer>(server: S, options?: ManagedServerOptions): ManagedServer<S> {
  return new ManagedServer(server, options);
}
