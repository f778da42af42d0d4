/**
 * A managed AbortController: aborted when it is revoked, so every operation started with its
 * signal is told to stop the moment its owner goes away.
 *
 * Invariants:
 * 1. The controller is aborted in the first synchronous step of the revoke (the kick), with a
 *    `RevokedError` as reason, unless `abort()` was called first; then the revoke drains the
 *    accesses in flight as the core does.
 * 2. `signal` is the controller's signal, readable before and after the revoke.
 * 3. With `scope`, the controller is in that scope and follows its `signal`: it is aborted in the
 *    first synchronous step of the scope's disposal, before any of the scope's releases runs.
 * 4. Every option is read once and all are checked before anything is created.
 *
 * @module
 */
import { ManagedResource, type ManagedOptions } from './managed.js';
import { bindToScope, readBoundOptions, type ScopeBindingOptions } from './internal/scope-binding.js';

/** Options of {@link ManagedAbortController}. */
export interface ManagedAbortControllerOptions extends ManagedOptions, ScopeBindingOptions {}

/**
 * An AbortController owned by a scope: revoking it aborts it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { once } from 'node:events';
 * import http from 'node:http';
 * import { RevokedError } from 'revocable';
 * import { ManagedAbortController } from 'revocable/node';
 *
 * const server = http.createServer(() => {}); // never answers
 * await once(server.listen(0, '127.0.0.1'), 'listening');
 * const controller = new ManagedAbortController({ name: 'fetches' });
 * const response = fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, { signal: controller.signal });
 * await controller.revoke();
 * await assert.rejects(response, RevokedError); // the fetch is aborted with a RevokedError
 * server.closeAllConnections();
 * server.close();
 * ```
 */
export class ManagedAbortController extends ManagedResource<AbortController> {
  readonly #controller: AbortController;
  /** Takes the controller out of its scope when it is revoked on its own (see `scope-binding.ts`). */
  readonly #unbind: (() => void) | undefined;

  /**
   * @param options `name`, `timeout`, a parent `signal` whose abort revokes (and aborts) this one,
   *   and a `scope` to belong to (aborted when its disposal begins).
   */
  constructor(options?: ManagedAbortControllerOptions) {
    const { managed, scope } = readBoundOptions(options, 'a managed abort controller');
    const controller = new AbortController();
    super(controller, managed, abortController);
    this.#controller = controller;
    // ManagedResource's kick signal is aborted first in the revoke: abort ours with its reason.
    super.signal.addEventListener('abort', () => controller.abort(super.signal.reason), { once: true });
    this.#unbind = scope === undefined ? undefined : bindToScope(this, scope);
  }

  protected override drain(timeout: number): Promise<boolean> {
    this.#unbind?.();
    return super.drain(timeout);
  }

  /** The controller's signal: aborted by `abort()` or, at the latest, when the revoke starts. */
  override get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Aborts now, with `reason`, without revoking. Idempotent, as `AbortController.abort`. */
  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }
}

const abortController = (controller: AbortController): void => controller.abort();
