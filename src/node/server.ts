/**
 * A drainable server: `net`, `http` and `https` servers whose revoke stops accepting, lets what
 * is in flight finish, closes what is idle at once, cuts what is still open when the deadline
 * passes, and resolves when every connection is gone.
 *
 * The server is a {@link Revocable} whose accesses are its connections: each accepted connection
 * holds one until it closes, so the core's drain is "every connection gone", and `release` waits for
 * the listening socket's `close`.
 *
 * Invariants:
 * 1. From the first synchronous step of the revoke the server accepts no connection: the listening
 *    socket is closed, and a connection already queued is destroyed on arrival.
 * 2. HTTP: no byte of a response in flight is lost. A connection is destroyed at the kick only when
 *    it has no response open (idle keep-alive); a busy one is ended (a graceful FIN) once its last
 *    response has been flushed, and that response says `Connection: close` if its head was not
 *    written before the revoke. Node's own `server.close()` destroys a connection whose response
 *    has ended but is still being flushed; the kick keeps it from doing so.
 * 3. HTTP/1.1 pipelining: `Connection: close` goes only on the response to the *last* request
 *    received on a connection, decided when its head is written, so the responses to requests
 *    pipelined behind another are still sent. A request that arrives on an open connection during
 *    the drain is served (its connection was accepted before the revoke), with `Connection: close`.
 * 4. Upgraded connections (`upgrade`, `connect`: websockets, tunnels) are in flight until they
 *    close: they get the kick through `signal` (close them with a close frame there) and are cut at
 *    the deadline like the rest.
 * 5. The deadline is `revoke({ timeout })` (default: the `timeout` given at creation): when it
 *    passes, every connection still open is destroyed and listed in {@link ManagedServer.report}
 *    (`graceful: false`); the revoke then resolves as usual. A later revoke with a shorter timeout
 *    brings the deadline forward; `timeout: 0` cuts everything at once.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import type { Access } from '../revocable.js';
import { checkOptionalFunction, checkOptions } from '../internal/validate.js';
import { ManagedResource, type ManagedOptions } from './managed.js';
import { checkInstance, warn } from './internal/util.js';

/** Options of {@link manageServer}. */
export interface ManagedServerOptions extends ManagedOptions {
  /**
   * Plain `net` servers only: what the kick does to each open connection. Default: `socket.end()`
   * (a graceful FIN after what was written). HTTP servers have their own kick and ignore this.
   */
  kick?: (socket: Socket) => void;
}

/** A request (or upgraded connection) whose connection was destroyed at the deadline. */
export interface CutRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  /** Whether the response's headers had been sent (the client saw a truncated body). */
  readonly headersSent: boolean;
  /** An `upgrade` or `connect` connection (websocket, tunnel) rather than a request. */
  readonly upgraded: boolean;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
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

/** The HTTP state of one connection, keyed by the socket the HTTP layer uses (TLS for https). */
interface HttpConnection {
  readonly socket: Socket;
  /** Responses not yet closed, oldest first: more than one when the client pipelines. */
  readonly responses: ServerResponse[];
  /** The request of an `upgrade`/`connect`: the socket belongs to the application now. */
  upgrade: IncomingMessage | null;
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
 * const server = manageServer(http.createServer(handler), { timeout: 10_000 });
 * server.server.listen(8080);
 * // ... on shutdown:
 * await server.revoke();        // stop accepting, finish in-flight requests, close the rest
 * server.report;                // => { graceful: true, cut: [], destroyed: 0, duration: 42 }
 * ```
 */
export class ManagedServer<S extends NetServer = NetServer> extends ManagedResource<S> {
  readonly #server: S;
  readonly #http: boolean;
  /** Plain http: the TCP socket is the HTTP socket (for https the TLS socket is, made later). */
  readonly #plainHttp: boolean;
  readonly #kickSocket: (socket: Socket) => void;
  /** Every accepted TCP connection and the access it holds until it closes. */
  readonly #connections = new Map<Socket, Access<S>>();
  /** HTTP state per connection; empty for a plain net server. */
  readonly #conns = new Map<Socket, HttpConnection>();
  #drain: Drain = LIVE;
  #report: ServerDrainReport | undefined;
  /** Resolves when the listening socket has closed (its `close` event). */
  #closed: Promise<void> | undefined;
  /** Listeners we added to the server, to take off once released. */
  readonly #listeners: [event: string, listener: (...args: never[]) => void][] = [];

  /**
   * @param server a `net.Server`, `http.Server` or `https.Server`, listening or not yet.
   * @param options `name`, `timeout` (the default deadline), `signal`, `kick` (net only).
   */
  constructor(server: S, options?: ManagedServerOptions) {
    checkInstance(server, NetServer, 'a net.Server, http.Server or https.Server', 'server');
    checkOptions(options);
    checkOptionalFunction(options?.kick, 'options.kick');
    if (managed.has(server)) throw new TypeError('Expected `server` to be a server not managed yet, got one that already is');
    super(server, options);
    managed.add(server);
    this.#server = server;
    this.#http = server instanceof HttpServer || server instanceof HttpsServer;
    this.#plainHttp = this.#http && !(server instanceof HttpsServer);
    this.#kickSocket = options?.kick ?? endSocket;
    this.#listen('connection', (socket: Socket) => this.#onConnection(socket));
    if (server instanceof HttpsServer) this.#listen('secureConnection', (socket: Socket) => this.#onSecureConnection(socket));
    if (this.#http) {
      this.#listen('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res), true);
      this.#watchUpgrades();
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
    if (this.#plainHttp) this.#track(socket);
    socket.once('close', () => {
      this.#connections.delete(socket);
      this.#conns.delete(socket);
      access.release();
    });
  }

  #onSecureConnection(socket: Socket): void {
    if (this.#drain.kind !== 'live') {
      socket.destroy();
      return;
    }
    this.#track(socket);
    socket.once('close', () => this.#conns.delete(socket));
  }

  #track(socket: Socket): HttpConnection {
    const conn: HttpConnection = { socket, responses: [], upgrade: null };
    this.#conns.set(socket, conn);
    return conn;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.#conns.get(req.socket) ?? this.#track(req.socket);
    conn.responses.push(res);
    res.on('close', () => this.#responseClosed(conn, res));
    if (this.#drain.kind === 'draining') this.#closeAfterLast(conn, res);
  }

  #responseClosed(conn: HttpConnection, res: ServerResponse): void {
    const responses = conn.responses;
    const index = responses.indexOf(res);
    if (index === 0) responses.shift();
    else if (index > 0) responses.splice(index, 1);
    // Node has flushed the response ('close' follows 'finish'); with `Connection: close` it is
    // already ending the socket. Without it (headers sent before the revoke) we end it: a FIN after
    // the last byte, never a reset.
    if (this.#drain.kind === 'draining' && responses.length === 0 && conn.upgrade === null) endSocket(conn.socket);
  }

  /**
   * Makes the response to `conn`'s last request say `Connection: close`. Which request is last is
   * known only when a response's head is written (a client may still pipeline another behind it),
   * so each response whose head is not written yet decides then: a hook on its `writeHead`, which
   * Node calls for an implicit head too. Only responses of a draining server get the hook.
   */
  #closeAfterLast(conn: HttpConnection, res: ServerResponse): void {
    if (res.headersSent || Object.hasOwn(res, 'writeHead')) return;
    const writeHead = res.writeHead;
    const hooked = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
      delete (res as { writeHead?: unknown }).writeHead;
      if (conn.responses[conn.responses.length - 1] === res) res.setHeader('connection', 'close');
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    };
    Object.defineProperty(res, 'writeHead', { value: hooked, configurable: true, writable: true });
  }

  /**
   * `upgrade` and `connect` sockets leave HTTP: they must not look idle. Node hands them over only
   * when the server has a listener for the event, so ours is present exactly when the application
   * has one (adding it unconditionally would change how Node treats upgrade requests).
   */
  #watchUpgrades(): void {
    const server = this.#server;
    const markers = new Map<string, (req: IncomingMessage, socket: Socket) => void>();
    const marker = (event: string): ((req: IncomingMessage, socket: Socket) => void) => {
      let listener = markers.get(event);
      if (listener === undefined) {
        listener = (req, socket) => this.#onUpgrade(req, socket);
        markers.set(event, listener);
      }
      return listener;
    };
    const sync = (event: string, adding: boolean): void => {
      if (event !== 'upgrade' && event !== 'connect') return;
      const listener = marker(event);
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
    sync('upgrade', false);
    sync('connect', false);
    this.#listeners.push(['upgrade', marker('upgrade')], ['connect', marker('connect')]);
  }

  #onUpgrade(req: IncomingMessage, socket: Socket): void {
    const conn = this.#conns.get(socket) ?? this.#track(socket);
    conn.upgrade = req;
  }

  /** The kick: runs synchronously in the first step of the revoke. */
  #kick(): void {
    this.#drain = { kind: 'draining', start: performance.now(), deadline: Infinity, timer: undefined };
    const server = this.#server;
    this.#closed = new Promise<void>((resolve) => {
      const onClosed = (): void => resolve();
      if (!this.#http) {
        server.close(onClosed);
        return;
      }
      // Node's http close() destroys "idle" connections, and counts as idle one whose response has
      // ended but is still being flushed: shadow that step with ours while it runs.
      const own = Object.getOwnPropertyDescriptor(server, 'closeIdleConnections');
      const shadow = Object.isExtensible(server) && (own === undefined || own.configurable === true);
      if (shadow) Object.defineProperty(server, 'closeIdleConnections', { value: () => this.#closeIdle(), configurable: true, writable: true });
      try {
        server.close(onClosed);
      } finally {
        if (shadow) {
          if (own === undefined) delete (server as { closeIdleConnections?: unknown }).closeIdleConnections;
          else Object.defineProperty(server, 'closeIdleConnections', own);
        }
      }
    });
    if (this.#http) {
      // Again, for a runtime whose close() does not close idle connections itself.
      this.#closeIdle();
      for (const conn of this.#conns.values()) for (const res of conn.responses) this.#closeAfterLast(conn, res);
    } else {
      for (const socket of this.#connections.keys()) {
        try {
          this.#kickSocket(socket);
        } catch (error) {
          warn(error);
        }
      }
    }
  }

  /** Destroys every HTTP connection with no response open and not upgraded: nothing is lost. */
  #closeIdle(): void {
    for (const conn of this.#conns.values()) {
      if (conn.responses.length === 0 && conn.upgrade === null) conn.socket.destroy();
    }
  }

  /** The deadline: destroy whatever is still open, and record what that cut. */
  #cut(): void {
    const drain = this.#drain;
    if (drain.kind !== 'draining') return;
    const cut: CutRequest[] = [];
    for (const conn of this.#conns.values()) {
      const { remoteAddress, remotePort } = conn.socket;
      for (const res of conn.responses) {
        cut.push({ method: res.req.method, url: res.req.url, headersSent: res.headersSent, upgraded: false, remoteAddress, remotePort });
      }
      if (conn.upgrade !== null) {
        cut.push({ method: conn.upgrade.method, url: conn.upgrade.url, headersSent: true, upgraded: true, remoteAddress, remotePort });
      }
    }
    const sockets = new Set<Socket>([...this.#connections.keys(), ...[...this.#conns.values()].map((c) => c.socket)]);
    const destroyed = this.#connections.size;
    this.#drain = { kind: 'cut', start: drain.start, cut, destroyed };
    for (const socket of sockets) socket.destroy();
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
    this.#conns.clear();
    managed.delete(this.#server);
  }
}

/** Servers with a ManagedServer attached: two would fight over the same connections. */
const managed = new WeakSet<NetServer>();

function endSocket(socket: Socket): void {
  if (!socket.destroyed && !socket.writableEnded) socket.end();
}

/**
 * Makes a server drainable: see {@link ManagedServer}. Attach it before the server accepts
 * connections (those accepted earlier are not tracked).
 *
 * @example
 * ```ts
 * const api = manageServer(http.createServer(app), { name: 'api', timeout: 10_000 });
 * api.server.listen(0, '127.0.0.1');
 * await api.revoke();
 * ```
 */
export function manageServer<S extends NetServer>(server: S, options?: ManagedServerOptions): ManagedServer<S> {
  return new ManagedServer(server, options);
}
