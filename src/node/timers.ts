/**
 * Managed timers: `setTimeout` and `setInterval` whose callbacks run inside an access, so that a
 * revoke stops them, kicks the callback in flight through its signal, waits for it (an async
 * callback holds the access until its promise settles), then clears the timer.
 *
 * Invariants:
 * 1. From the first synchronous step of the revoke the callback is not called again, even by a
 *    tick that was already due.
 * 2. A callback running when the revoke starts has its `signal` aborted and is waited for.
 * 3. The timer is cleared exactly once, after the drain; nothing keeps the callback afterwards.
 * 4. A callback that throws or rejects does so as it would from a plain timer (an uncaught
 *    exception, an unhandled rejection): managing a timer does not hide its errors.
 * 5. With `scope`, the timer is in that scope and follows its `signal`: no tick runs from the first
 *    synchronous step of the scope's disposal, whatever the scope releases first.
 * 6. Every option is read once and all are checked before the timer is created.
 *
 * @module
 */
import { checkDelay, checkFunction } from '../internal/validate.js';
import { ManagedResource, type ManagedOptions } from './managed.js';
import { checkOptionalBoolean } from './internal/util.js';
import { bindToScope, readBoundOptions, type ScopeBindingOptions } from './internal/scope-binding.js';

/** Options of {@link setManagedTimeout} and {@link setManagedInterval}. */
export interface ManagedTimerOptions extends ManagedOptions, ScopeBindingOptions {
  /** Do not keep the process alive for this timer alone (`timer.unref()`). Default: `false`. */
  unref?: boolean;
}

type Timer = ReturnType<typeof setTimeout>;
type Callback = (signal: AbortSignal) => unknown;

/**
 * A timer whose callback drains before it is cleared. Create it with {@link setManagedTimeout} or
 * {@link setManagedInterval}.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { setManagedInterval } from 'revocable/node';
 *
 * let pings = 0;
 * const heartbeat = setManagedInterval(() => pings++, 1_000);
 * heartbeat.unref(); // does not keep the process alive on its own
 * assert.equal(heartbeat.hasRef(), false);
 * assert.equal(await heartbeat.revoke(), true); // no tick after this line, none running
 * assert.equal(heartbeat.state, 'revoked');
 * ```
 */
export class ManagedTimer extends ManagedResource<Timer> {
  /** Takes the timer out of its scope when it is revoked on its own (see `scope-binding.ts`). */
  readonly #unbind: (() => void) | undefined;

  /** @internal Use {@link setManagedTimeout} or {@link setManagedInterval}. */
  constructor(kind: 'timeout' | 'interval', callback: Callback, delay: number, options?: ManagedTimerOptions) {
    checkFunction(callback, 'callback');
    checkDelay(delay, 'delay');
    const { managed, scope } = readBoundOptions(options, `a managed ${kind}`);
    const unref = options?.unref;
    checkOptionalBoolean(unref, 'options.unref');
    // The callback runs only through tryWith: the gate. The tick reaches the instance through
    // `late` (the timer must exist before the instance does: it is the resource).
    const late: { self?: ManagedTimer } = {};
    const run = (_timer: Timer, signal: AbortSignal): unknown => callback(signal);
    const tick = (): void => {
      late.self?.tryWith(run);
    };
    const timer = kind === 'timeout' ? setTimeout(tick, delay) : setInterval(tick, delay);
    if (unref === true) timer.unref();
    try {
      super(timer, managed, kind === 'timeout' ? clearTimeout : clearInterval);
    } catch (error) {
      clearTimeout(timer);
      throw error;
    }
    late.self = this;
    this.#unbind = scope === undefined ? undefined : bindToScope(this, scope);
  }

  protected override drain(timeout: number): Promise<boolean> {
    this.#unbind?.();
    return super.drain(timeout);
  }

  /** Keeps the process alive for this timer (the default). No-op once revoked. */
  ref(): this {
    this.tryWith(refTimer);
    return this;
  }

  /** Lets the process exit while this timer is pending. No-op once revoked. */
  unref(): this {
    this.tryWith(unrefTimer);
    return this;
  }

  /** Whether the timer keeps the process alive; `false` once revoked. */
  hasRef(): boolean {
    return this.tryWith(hasRefTimer) ?? false;
  }

  /** Restarts the countdown (`timer.refresh()`); a fired timeout runs again. No-op once revoked. */
  refresh(): this {
    this.tryWith(refreshTimer);
    return this;
  }
}

const refTimer = (timer: Timer): void => void timer.ref();
const unrefTimer = (timer: Timer): void => void timer.unref();
const hasRefTimer = (timer: Timer): boolean => timer.hasRef();
const refreshTimer = (timer: Timer): void => void timer.refresh();

/**
 * `setTimeout`, managed: `callback(signal)` runs once after `delay` ms unless the timer is revoked
 * first; a revoke during an async callback waits for it.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { setManagedTimeout } from 'revocable/node';
 *
 * const log: string[] = [];
 * let started!: () => void;
 * const running = new Promise<void>((resolve) => (started = resolve));
 * const timer = setManagedTimeout(async (signal) => {
 *   started();
 *   await new Promise((resolve) => signal.addEventListener('abort', resolve)); // a flush that stops when kicked
 *   log.push('flush ended');
 * }, 10);
 * await running;
 * await timer.revoke(); // flush() is running: kicked, and waited for
 * assert.deepEqual(log, ['flush ended']);
 * ```
 */
export function setManagedTimeout(callback: (signal: AbortSignal) => unknown, delay: number, options?: ManagedTimerOptions): ManagedTimer {
  return new ManagedTimer('timeout', callback, delay, options);
}

/**
 * `setInterval`, managed: `callback(signal)` runs every `delay` ms until the timer is revoked;
 * the revoke waits for a run in flight. Runs may overlap if an async callback outlasts `delay`,
 * as with `setInterval`.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { setManagedInterval } from 'revocable/node';
 *
 * const refresh = async ({ signal }: { signal: AbortSignal }) => signal.aborted; // a cache refresh, say
 * const poll = setManagedInterval((signal) => refresh({ signal }), 5_000, { unref: true });
 * assert.equal(poll.hasRef(), false); // it does not keep the process alive
 * await poll.revoke();
 * assert.equal(poll.state, 'revoked');
 * ```
 */
export function setManagedInterval(callback: (signal: AbortSignal) => unknown, delay: number, options?: ManagedTimerOptions): ManagedTimer {
  return new ManagedTimer('interval', callback, delay, options);
}
