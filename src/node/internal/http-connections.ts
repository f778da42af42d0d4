/**
 * The HTTP side of a drainable server: which connections have a response open, which are idle,
 * which were upgraded, and what the drain does to each. `ManagedServer` owns one per HTTP server.
 *
 * Invariants:
 * 1. An idle connection (no response open, not upgraded) is never closed while a request may be on
 *    its way: from the kick, it stays open until it has received nothing for `idleGrace` ms. A
 *    request that arrives meanwhile is served with `Connection: close`. The check runs after the
 *    event loop's poll phase, so bytes already in the kernel's buffer are read first; any byte
 *    received (a request arriving in pieces) starts the grace again.
 * 2. `Connection: close` goes only on the response to the *last* request received on a
 *    connection, decided when its head is written, so responses to requests pipelined behind
 *    another are still sent.
 * 3. A connection whose last response has been flushed without `Connection: close` (its head was
 *    written before the kick) becomes idle and gets the grace of invariant 1: the client was told
 *    it could send another request, and may have.
 * 4. Every timer this module starts is cleared by `cut()` or by the connection's `close`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A request (or upgraded connection) whose connection was destroyed at the deadline. */
export interface CutRequest {
  /** The request's method, if it was a request. */
  readonly method: string | undefined;
  /** The request's URL, if it was a request. */
  readonly url: string | undefined;
  /** Whether the response's headers had been sent (the client saw a truncated body). */
  readonly headersSent: boolean;
  /** An `upgrade` or `connect` connection (websocket, tunnel) rather than a request. */
  readonly upgraded: boolean;
  /** The client's address. */
  readonly remoteAddress: string | undefined;
  /** The client's port. */
  readonly remotePort: number | undefined;
}

/** One connection, keyed by the socket the HTTP layer uses (the TLS socket for https). */
interface Connection {
  readonly socket: Socket;
  /** Responses not yet closed, oldest first: more than one when the client pipelines. */
  readonly responses: ServerResponse[];
  /** The request of an `upgrade`/`connect`: the socket belongs to the application now. */
  upgrade: IncomingMessage | null;
  /** Draining and idle: the grace timer, and what the socket had read when it was armed. */
  idle: Idle | null;
}

/** The grace of an idle connection: its timer, then the turn after the poll phase (invariant 1). */
type Idle =
  | { readonly kind: 'timer'; readonly handle: ReturnType<typeof setTimeout> }
  | { readonly kind: 'immediate'; readonly handle: ReturnType<typeof setImmediate> };

export class HttpConnections {
  readonly #conns = new Map<Socket, Connection>();
  readonly #idleGrace: number;
  #draining = false;

  /** @param idleGrace milliseconds an idle connection stays open once draining (invariant 1). */
  constructor(idleGrace: number) {
    this.#idleGrace = idleGrace;
  }

  /** Starts tracking a connection; forgets it when it closes. */
  track(socket: Socket): void {
    if (this.#conns.has(socket)) return;
    const conn: Connection = { socket, responses: [], upgrade: null, idle: null };
    this.#conns.set(socket, conn);
    socket.once('close', () => {
      this.#stopIdle(conn);
      this.#conns.delete(socket);
    });
    if (this.#draining) this.#startIdle(conn);
  }

  /** A request and its response: in flight until the response closes. */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.#conn(req.socket);
    conn.responses.push(res);
    res.on('close', () => this.#responseClosed(conn, res));
    if (this.#draining) {
      this.#stopIdle(conn);
      this.#closeAfterLast(conn, res);
    }
  }

  /** An `upgrade`/`connect` socket left HTTP: in flight until it closes, never idle. */
  onUpgrade(req: IncomingMessage, socket: Socket): void {
    const conn = this.#conn(socket);
    conn.upgrade = req;
    this.#stopIdle(conn);
  }

  /** The open response to `req`, if `req` is a request in flight on one of these connections. */
  responseOf(req: IncomingMessage): ServerResponse | undefined {
    const conn = this.#conns.get(req.socket);
    return conn?.responses.find((res) => res.req === req);
  }

  /** Requests with a response open, plus upgraded connections: what a cut now would cut. */
  get inFlight(): number {
    let count = 0;
    for (const conn of this.#conns.values()) count += conn.responses.length + (conn.upgrade === null ? 0 : 1);
    return count;
  }

  /** The kick: idle connections get their grace, open responses their `Connection: close`. */
  kick(): void {
    this.#draining = true;
    for (const conn of this.#conns.values()) {
      if (conn.upgrade !== null) continue;
      if (conn.responses.length === 0) this.#startIdle(conn);
      else for (const res of conn.responses) this.#closeAfterLast(conn, res);
    }
  }

  /** The deadline: what is still open, for the report, and every socket to destroy. */
  cut(): { cut: CutRequest[]; sockets: Socket[] } {
    const cut: CutRequest[] = [];
    const sockets: Socket[] = [];
    for (const conn of this.#conns.values()) {
      this.#stopIdle(conn);
      sockets.push(conn.socket);
      const { remoteAddress, remotePort } = conn.socket;
      for (const res of conn.responses) {
        cut.push({ method: res.req.method, url: res.req.url, headersSent: res.headersSent, upgraded: false, remoteAddress, remotePort });
      }
      if (conn.upgrade !== null) {
        cut.push({ method: conn.upgrade.method, url: conn.upgrade.url, headersSent: true, upgraded: true, remoteAddress, remotePort });
      }
    }
    return { cut, sockets };
  }

  /** Drops every connection (the server has been released). */
  clear(): void {
    for (const conn of this.#conns.values()) this.#stopIdle(conn);
    this.#conns.clear();
  }

  #conn(socket: Socket): Connection {
    const conn = this.#conns.get(socket);
    if (conn !== undefined) return conn;
    this.track(socket);
    return this.#conns.get(socket) as Connection;
  }

  #responseClosed(conn: Connection, res: ServerResponse): void {
    const responses = conn.responses;
    const index = responses.indexOf(res);
    if (index === 0) responses.shift();
    else if (index > 0) responses.splice(index, 1);
    // Flushed ('close' follows 'finish'). With `Connection: close` Node is ending the socket now
    // and its 'close' clears the grace; without (invariant 3) the client may send another request.
    if (this.#draining && responses.length === 0 && conn.upgrade === null && !conn.socket.writableEnded) this.#startIdle(conn);
  }

  #startIdle(conn: Connection): void {
    this.#stopIdle(conn);
    if (this.#idleGrace === Infinity) return;
    const bytesRead = conn.socket.bytesRead;
    const handle = setTimeout(() => {
      // After the poll phase: a request already in the kernel's buffer is read (and counted) first.
      conn.idle = { kind: 'immediate', handle: setImmediate(() => this.#idleExpired(conn, bytesRead)) };
    }, this.#idleGrace);
    conn.idle = { kind: 'timer', handle };
  }

  #idleExpired(conn: Connection, bytesRead: number): void {
    conn.idle = null;
    if (conn.responses.length > 0 || conn.upgrade !== null || conn.socket.destroyed) return;
    if (conn.socket.bytesRead !== bytesRead) this.#startIdle(conn); // a request is arriving
    else conn.socket.destroy();
  }

  #stopIdle(conn: Connection): void {
    const idle = conn.idle;
    if (idle === null) return;
    conn.idle = null;
    if (idle.kind === 'timer') clearTimeout(idle.handle);
    else clearImmediate(idle.handle);
  }

  /**
   * Makes the response to `conn`'s last request say `Connection: close` (invariant 2). Which
   * request is last is known only when a response's head is written (a client may still pipeline
   * another behind it), so each response whose head is not written yet decides then: a hook on its
   * `writeHead`, which Node calls for an implicit head too.
   */
  #closeAfterLast(conn: Connection, res: ServerResponse): void {
    if (res.headersSent || Object.hasOwn(res, 'writeHead')) return;
    const writeHead = res.writeHead;
    const hooked = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
      delete (res as { writeHead?: unknown }).writeHead;
      if (conn.responses[conn.responses.length - 1] === res) res.setHeader('connection', 'close');
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    };
    Object.defineProperty(res, 'writeHead', { value: hooked, configurable: true, writable: true });
  }
}
