/**
 * A managed AbortController: aborted when it is revoked, so every operation started with its
 * signal is told to stop the moment its owner goes away.
 *
 * Invariants:
 * 1. The controller is aborted in the first synchronous step of the revoke (the kick), with a
 *    `RevokedError` as reason, unless `abort()` was called first; then the revoke drains the
 *    accesses in flight as the core does.
 * 2. `signal` is the controller's signal, readable before and after the revoke.
 *
 * @module
 */
import { ManagedResource, type ManagedOptions } from './managed.js';

/**
 * An AbortController owned by a scope: revoking it aborts it.
 *
 * @example
 * ```ts
 * const controller = new ManagedAbortController({ name: 'fetches' });
 * const response = fetch(url, { signal: controller.signal });
 * await controller.revoke(); // the fetch is aborted with a RevokedError
 * ```
 */
export class ManagedAbortController extends ManagedResource<AbortController> {
  readonly #controller: AbortController;

  /** @param options `name`, `timeout`, and a parent `signal` whose abort revokes (and aborts) this one. */
  constructor(options?: ManagedOptions) {
    const controller = new AbortController();
    super(controller, options, abortController);
    this.#controller = controller;
    // ManagedResource's kick signal is aborted first in the revoke: abort ours with its reason.
    super.signal.addEventListener('abort', () => controller.abort(super.signal.reason), { once: true });
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
