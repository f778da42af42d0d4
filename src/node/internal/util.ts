/**
 * Small helpers shared by the managed Node resources: argument checks for Node types, signal
 * plumbing, and a one-shot wait on an event with a timer.
 */
import type { EventEmitter } from 'node:events';
import { expected } from '../../internal/validate.js';

export function checkOptionalSignal(value: unknown, name: string): void {
  if (value !== undefined && !(value instanceof AbortSignal)) throw expected('an AbortSignal or undefined', name, value);
}

export function checkOptionalBoolean(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw expected('a boolean or undefined', name, value);
}

/** An instance of `type`, or a TypeError naming what was expected and what came. */
export function checkInstance<T>(value: unknown, type: abstract new (...args: never[]) => T, what: string, name: string): asserts value is T {
  if (!(value instanceof type)) throw expected(what, name, value);
}

/**
 * A signal aborted when any of `signals` is. `AbortSignal.any` where the runtime has it (Node >=
 * 20.3); otherwise a controller that follows them.
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (any !== undefined) return any([...signals]);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      return controller.signal;
    }
  }
  const onAbort = (event: Event): void => controller.abort((event.target as AbortSignal).reason);
  for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
  return controller.signal;
}

/**
 * Resolves `true` once `emitter` emits `event`, or `false` when `ms` passes first (never, for
 * `Infinity`). Leaves no listener and no timer behind.
 */
export function once(emitter: EventEmitter, event: string, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(true);
    };
    emitter.once(event, done);
    if (ms !== Infinity) {
      timer = setTimeout(() => {
        emitter.removeListener(event, done);
        resolve(false);
      }, ms);
    }
  });
}

/** Reports an error nobody awaits (a revoke started by a parent signal) without crashing. */
export function warn(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)));
}
