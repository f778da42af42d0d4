/**
 * Managed event listeners, on a Node `EventEmitter` or a DOM-style `EventTarget`: the listener
 * runs inside an access, so a revoke stops it being called, kicks and waits for a call in flight
 * (an async listener holds the access until its promise settles), then removes it.
 *
 * This is the fix for the handler that still fires after `remove()`: once `revoke()` has started
 * the listener is never entered again, and once it resolves no call is running.
 *
 * Invariants:
 * 1. From the first synchronous step of the revoke the listener is not called, even by an event
 *    dispatched before it is removed.
 * 2. Calls in flight get their `signal` aborted and are waited for; then the listener is removed
 *    exactly once and the target holds no reference to it.
 * 3. Errors propagate as from an unmanaged listener: a synchronous throw reaches the emitter (or
 *    the runtime's error reporting for an EventTarget); a rejection is the same rejection.
 * 4. The listener gets the event's own arguments, then the kick signal as the last one: the one
 *    rule for every managed listener of the library (timers get `fn(signal)` alike).
 * 5. With `scope`, the listener is in that scope and follows its `signal`: it is not called from
 *    the first synchronous step of the scope's disposal, even by an event that a newer entry's
 *    release emits while the listener waits for its own turn to be removed.
 * 6. Every option is read once and all are checked before the listener is added.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { checkFunction, expected } from '../internal/validate.js';
import { ManagedResource, type ManagedOptions } from './managed.js';
import { checkOptionalBoolean } from './internal/util.js';
import { bindToScope, readBoundOptions, type ScopeBindingOptions } from './internal/scope-binding.js';

/** Options of {@link addManagedListener}. */
export interface ManagedListenerOptions extends ManagedOptions, ScopeBindingOptions {
  /** Call at most once (`once` of both kinds of target). Default: `false`. */
  once?: boolean;
  /** EventTarget only: listen in the capture phase. Default: `false`. */
  capture?: boolean;
  /** EventTarget only: the listener will not call `preventDefault()`. */
  passive?: boolean;
}

/**
 * What a listener is given: the event's arguments, then the kick signal.
 *
 * @inline
 */
type Listener<A extends unknown[]> = (...args: [...A, AbortSignal]) => unknown;

/**
 * What a managed listener listens on: a Node `EventEmitter` or an `EventTarget`.
 *
 * @inline
 */
type Target = EventEmitter | EventTarget;

/**
 * A listener registered on an EventEmitter or EventTarget, drained before it is removed. Create it
 * with {@link addManagedListener}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { EventEmitter } from 'node:events';
 * import { addManagedListener } from 'revocable/node';
 *
 * const messages: unknown[] = [];
 * const worker = new EventEmitter(); // a Worker, a socket: any emitter or EventTarget
 * const onMessage = addManagedListener(worker, 'message', (message: unknown) => messages.push(message));
 * worker.emit('message', 'hello');
 * await onMessage.revoke();
 * assert.equal(worker.listenerCount('message'), 0);
 * assert.deepEqual(messages, ['hello']);
 * ```
 */
export class ManagedListener<T extends Target = Target> extends ManagedResource<T> {
  readonly #remove: () => void;
  /** Takes the listener out of its scope when it is revoked on its own (see `scope-binding.ts`). */
  readonly #unbind: (() => void) | undefined;

  /** @internal Use {@link addManagedListener}. */
  constructor(target: T, type: string | symbol, listener: (...args: never[]) => unknown, options?: ManagedListenerOptions) {
    const kind = targetKind(target);
    if (typeof type !== 'string' && (typeof type !== 'symbol' || kind === 'target')) {
      throw expected(kind === 'target' ? 'a string' : 'a string or a symbol', 'type', type);
    }
    checkFunction(listener, 'listener');
    const { managed, scope } = readBoundOptions(options, `a managed listener for ${String(type)}`);
    const onceOption = options?.once;
    const captureOption = options?.capture;
    const passive = options?.passive;
    checkOptionalBoolean(onceOption, 'options.once');
    checkOptionalBoolean(captureOption, 'options.capture');
    checkOptionalBoolean(passive, 'options.passive');
    if (managed.name === undefined) managed.name = String(type);
    super(target, managed);
    const call = listener as (...a: unknown[]) => unknown;
    const wrapper = (self: ManagedListener<T>) =>
      function (this: unknown, ...eventArgs: unknown[]): unknown {
        return self.tryWith((_target, signal) => call.call(this, ...eventArgs, signal));
      };
    const fn = wrapper(this);
    const once = onceOption === true;
    if (kind === 'emitter') {
      const emitter = target as EventEmitter;
      if (once) emitter.once(type, fn);
      else emitter.on(type, fn);
      this.#remove = () => void emitter.removeListener(type, fn);
    } else {
      const eventTarget = target as EventTarget;
      const capture = captureOption === true;
      const flags: AddEventListenerOptions = { capture, once };
      if (passive !== undefined) flags.passive = passive;
      eventTarget.addEventListener(type as string, fn, flags);
      this.#remove = () => eventTarget.removeEventListener(type as string, fn, { capture });
    }
    this.#unbind = scope === undefined ? undefined : bindToScope(this, scope);
  }

  protected override drain(timeout: number): Promise<boolean> {
    this.#unbind?.();
    return super.drain(timeout);
  }

  protected override releaseResource(): void {
    this.#remove();
  }
}

function targetKind(target: unknown): 'emitter' | 'target' {
  if (target !== null && typeof target === 'object') {
    const t = target as Partial<EventEmitter & EventTarget>;
    if (typeof t.on === 'function' && typeof t.removeListener === 'function') return 'emitter';
    if (typeof t.addEventListener === 'function' && typeof t.removeEventListener === 'function') return 'target';
  }
  throw expected('an EventEmitter or an EventTarget', 'target', target);
}

/**
 * Adds `listener` for `type` on `target` (an EventEmitter or an EventTarget), managed: the
 * listener gets the event's arguments followed by the kick signal; `revoke()` stops it, waits for
 * calls in flight, then removes it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { EventEmitter } from 'node:events';
 * import { addManagedListener } from 'revocable/node';
 *
 * const saved: string[] = [];
 * const store = { save: async (chunk: string, _options: { signal: AbortSignal }) => { await Promise.resolve(); saved.push(chunk); } };
 * const port = new EventEmitter();
 * const onData = addManagedListener(port, 'data', async (chunk: string, signal: AbortSignal) => {
 *   await store.save(chunk, { signal });
 * });
 * port.emit('data', 'first');
 * await onData.revoke(); // no call after this line; the one in flight has finished
 * port.emit('data', 'late');
 * assert.deepEqual(saved, ['first']);
 * ```
 */
export function addManagedListener<A extends unknown[] = unknown[], T extends Target = Target>(
  target: T,
  type: string | symbol,
  listener: Listener<A>,
  options?: ManagedListenerOptions,
): ManagedListener<T> {
  return new ManagedListener(target, type, listener as (...args: never[]) => unknown, options);
}
