/**
 * Argument checks of `revocable/remote`, in the core's message shape. Each names the parameter as
 * the caller wrote it (`leaseMs`, `timeout`, ...), since those are what a caller searches for.
 *
 * Invariants:
 * 1. Every duration that reaches a timer is at most 2^31 - 1 ms (setTimeout would fire at once
 *    past it), or `Infinity` where "no limit" makes sense.
 * 2. A check returns the value it accepted, so each option is read exactly once.
 */
import { expected, show } from '../../internal/validate.js';
import type { RemoteBackend } from '../backend.js';

/** The longest delay setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function checkName(value: unknown, name = 'name'): string {
  if (typeof value !== 'string' || value === '') throw expected('a non-empty string', name, value);
  return value;
}

/** A lease or interval: a finite number > 0 and <= 2^31 - 1 ms, at least `min`. */
export function checkLease(value: unknown, name: string, def: number, min: number, minWhy: string): number {
  if (value === undefined) return Math.max(def, min);
  if (typeof value !== 'number') throw expected('a finite number > 0 (milliseconds)', name, value);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Expected \`${name}\` to be a finite number > 0 (milliseconds), got ${show(value)}`);
  }
  if (value > MAX_TIMER_MS) throw new RangeError(`Expected \`${name}\` to be at most ${MAX_TIMER_MS} ms (the longest timer), got ${show(value)}`);
  if (value < min) throw new RangeError(`Expected \`${name}\` to be at least ${min} ms (${minWhy}), got ${show(value)}`);
  return value;
}

/** A timeout: a number >= 0, at most 2^31 - 1 ms, or `Infinity`. */
export function checkTimeout(value: unknown, name: string): number {
  if (value === undefined) return Infinity;
  if (typeof value !== 'number') throw expected('a number >= 0 (milliseconds) or Infinity', name, value);
  if (Number.isNaN(value) || value < 0) throw new RangeError(`Expected \`${name}\` to be a number >= 0 (milliseconds) or Infinity, got ${show(value)}`);
  if (value !== Infinity && value > MAX_TIMER_MS) {
    throw new RangeError(`Expected \`${name}\` to be Infinity or at most ${MAX_TIMER_MS} ms (the longest timer), got ${show(value)}`);
  }
  return value;
}

/** A duration >= 0 that reaches a timer: finite, at most 2^31 - 1 ms. */
export function checkDelay(value: unknown, name: string, def: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw expected('a finite number >= 0 (milliseconds)', name, value);
  if (!Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new RangeError(`Expected \`${name}\` to be a finite number >= 0 and <= ${MAX_TIMER_MS} (milliseconds), got ${show(value)}`);
  }
  return value;
}

/** The self-fencing margin: a fraction of the lease in [0, 1). */
export function checkMargin(value: unknown, name: string, def: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw expected('a number in [0, 1)', name, value);
  if (!(value >= 0 && value < 1)) throw new RangeError(`Expected \`${name}\` to be a number in [0, 1), got ${show(value)}`);
  return value;
}

export function checkOptionalId(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  return checkName(value, name);
}

const methods = ['watch', 'attach', 'renew', 'detach', 'begin', 'renewRevoker', 'poll', 'raiseFence', 'finish', 'abandon', 'fence'] as const;

/** A backend made by `redisBackend()` or `etcdBackend()`, or anything of the same shape. */
export function checkBackend(value: unknown, name = 'backend'): RemoteBackend {
  const shaped =
    value !== null &&
    typeof value === 'object' &&
    methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function') &&
    typeof (value as { minLeaseMs?: unknown }).minLeaseMs === 'number';
  if (!shaped) throw expected('a backend (from redisBackend() or etcdBackend())', name, value);
  return value as RemoteBackend;
}
