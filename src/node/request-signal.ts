/**
 * One signal per HTTP request, for a handler to pass down: aborted when the server's revoke starts
 * (the kick: wrap up), when the client goes away before the response is sent, and, when given one,
 * when a resource the request uses is revoked.
 *
 * Invariants:
 * 1. The signal aborts once, with the reason of what came first: the server's `RevokedError`, a
 *    {@link ClientDisconnectedError}, or the resource's `RevokedError`. A source already aborted
 *    (the client already gone, the resource already revoked) aborts it at once.
 * 2. A response that finishes normally leaves the signal unaborted.
 * 3. Once the response has closed, or the signal has aborted, it holds no listener on any source:
 *    a long-lived server or resource signal does not keep finished requests alive.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RevokedError, describeName } from '../errors.js';
import { Revocable, RevocableHandle } from '../revocable.js';

/**
 * What a request's signal may also follow: a `Revocable` (any managed resource) or a
 * `RevocableHandle`, whose revoke aborts it, or any `AbortSignal`.
 */
export type RequestSignalSource<T = unknown> = Revocable<T> | RevocableHandle<T> | AbortSignal;

/**
 * The client closed the connection before the response was complete: the reason of a request
 * signal (see `ManagedServer.requestSignal`) aborted by a disconnect.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { ClientDisconnectedError, manageServer } from 'revocable/node';
 *
 * let hungUp!: (reason: unknown) => void;
 * const reason = new Promise((resolve) => (hungUp = resolve));
 * const api = manageServer(http.createServer((req, res) => {
 *   api.requestSignal(req, res).addEventListener('abort', function () { hungUp(this.reason); });
 *   client.destroy(); // the client hangs up before the response
 * }));
 * await once(api.server.listen(0, '127.0.0.1'), 'listening');
 * const client = http.get(`http://127.0.0.1:${(api.server.address() as { port: number }).port}/`).on('error', () => {});
 * const error = await reason;
 * assert.ok(error instanceof ClientDisconnectedError);
 * assert.equal(error.code, 'ECONNRESET');
 * await api.revoke();
 * ```
 */
export class ClientDisconnectedError extends Error {
  /** Always `'ECONNRESET'`, as Node names a connection the peer closed. */
  readonly code = 'ECONNRESET' as const;
  /** The request's method. */
  readonly method: string | undefined;
  /** The request's URL. */
  readonly url: string | undefined;

  constructor(method: string | undefined, url: string | undefined) {
    super(`The client disconnected before the response to ${method ?? '?'} ${url ?? '?'} was complete`);
    this.name = 'ClientDisconnectedError';
    this.method = method;
    this.url = url;
  }
}

/** The abort signal of a resource: its kick signal, or one already aborted once it is revoked. */
function signalOf<T>(source: RequestSignalSource<T>): AbortSignal {
  if (source instanceof AbortSignal) return source;
  const signal = source.tryWith(kickSignal);
  if (signal !== undefined) return signal;
  const name = source instanceof Revocable ? source.name : undefined;
  return AbortSignal.abort(new RevokedError(`${describeName('Revocable', name)} was revoked`, { resourceName: name }));
}

const kickSignal = (_resource: unknown, signal: AbortSignal): AbortSignal => signal;

/**
 * Builds the signal of one request (arguments checked by the caller): aborted by `kick` (unless
 * `undefined`), by the response closing unfinished, and by `resource`'s revoke.
 */
export function makeRequestSignal<T>(kick: AbortSignal | undefined, req: IncomingMessage, res: ServerResponse, resource: RequestSignalSource<T> | undefined): AbortSignal {
  const controller = new AbortController();
  const sources: AbortSignal[] = [];
  if (kick !== undefined) sources.push(kick);
  if (resource !== undefined) sources.push(signalOf(resource));
  if (res.closed) {
    if (!res.writableFinished) controller.abort(new ClientDisconnectedError(req.method, req.url));
    return controller.signal;
  }
  for (const source of sources) {
    if (source.aborted) {
      controller.abort(source.reason);
      return controller.signal;
    }
  }
  const onAbort = (event: Event): void => {
    cleanup();
    controller.abort((event.target as AbortSignal).reason);
  };
  const onClose = (): void => {
    cleanup();
    if (!res.writableFinished) controller.abort(new ClientDisconnectedError(req.method, req.url));
  };
  const cleanup = (): void => {
    res.removeListener('close', onClose);
    for (const source of sources) source.removeEventListener('abort', onAbort);
  };
  res.once('close', onClose);
  for (const source of sources) source.addEventListener('abort', onAbort, { once: true });
  return controller.signal;
}

/** Whether `value` can be a {@link RequestSignalSource}; a revoked `Proxy` is not one. */
export function isRequestSignalSource(value: unknown): value is RequestSignalSource<unknown> {
  try {
    return value instanceof AbortSignal || value instanceof Revocable || value instanceof RevocableHandle;
  } catch {
    return false;
  }
}
