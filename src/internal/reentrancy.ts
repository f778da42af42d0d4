/**
 * Detection of a revoke that would wait for itself: a revoke (or unbind) awaited from inside one of
 * the operations it must drain never finishes, because the operation waits for the revoke and the
 * revoke for the operation. The revoke(2) proposal forbids it outright ("thou shalt not call
 * revoke_it() from any methods of any file affected by it ... do it asynchronously").
 *
 * Each gated target (a device node, a binding's probe, remove and managed callbacks) counts the
 * calls whose *synchronous* part is running (`depth`). A device node refuses, with `EDEADLK`, a
 * revoke called while that count is above zero: it was called from inside one of its own
 * operations (`file.hangup()` is the way to do that). Bindings count for a tracker's sake: an
 * unbind started from inside the device's own callbacks is legitimate, only awaiting it there is
 * not, and telling the two apart needs the async context a tracker follows.
 *
 * Invariants:
 * 1. `depth` is raised before a gated call and lowered after its synchronous part returns or
 *    throws; it never stays raised across an `await`.
 * 2. Without a tracker installed, detection costs one integer increment and decrement per call.
 * 3. A tracker, once installed, sees every gated call of every target (the hook for async-context
 *    detection: it can tell that code after an `await` still belongs to an operation).
 *
 * @module
 */

/** Something whose gated calls are counted: a device node, a device's binding. */
export interface Reentrant {
  /** How many gated calls of this target have their synchronous part on the stack now. */
  depth: number;
}

/**
 * The hook for a diagnostics module: tracks which gated calls are running across `await`s (with
 * `AsyncLocalStorage` in Node, `AsyncContext` where the runtime has it), so that a revoke awaited
 * after an `await` inside an operation is caught too, not only one called in its synchronous part.
 */
export interface ReentrancyTracker {
  /** Runs `call`, a gated call of `target`, so that {@link ReentrancyTracker.isInside} sees it. */
  wrap<R>(target: Reentrant, call: () => R): R;
  /** Whether the code running now belongs to a gated call of `target`. */
  isInside(target: Reentrant): boolean;
}

let tracker: ReentrancyTracker | undefined;

/**
 * Installs (or, with `undefined`, removes) the tracker. For diagnostics and tests; production code
 * runs without one.
 */
export function setReentrancyTracker(next: ReentrancyTracker | undefined): void {
  if (next !== undefined && (typeof next !== 'object' || next === null || typeof next.wrap !== 'function' || typeof next.isInside !== 'function')) {
    throw new TypeError('Expected `tracker` to be an object with `wrap` and `isInside` functions, or undefined');
  }
  tracker = next;
}

/** The installed tracker, if any. */
export function reentrancyTracker(): ReentrancyTracker | undefined {
  return tracker;
}

/** Whether the code running now is inside a gated call of `target`. */
export function isInside(target: Reentrant): boolean {
  return target.depth > 0 || (tracker !== undefined && tracker.isInside(target));
}

/**
 * Calls `fn` on `self` with `first` and then `rest` as arguments, as a gated call of `target`
 * (invariant 1): its depth raised for the synchronous part, and seen by the tracker when one is
 * installed. The one place a gated call is made: file operations (`first` is the file), probes and
 * removes (the device), managed callbacks. Up to two further arguments are passed without an array
 * of their own, for the file operations' read path.
 */
export function callGated(target: Reentrant, fn: (...args: never[]) => unknown, self: unknown, first: unknown, rest: readonly unknown[]): unknown {
  const f = fn as (...args: unknown[]) => unknown;
  target.depth++;
  try {
    if (tracker !== undefined) return tracker.wrap(target, () => Reflect.apply(f, self, [first, ...rest]));
    switch (rest.length) {
      case 0:
        return f.call(self, first);
      case 1:
        return f.call(self, first, rest[0]);
      case 2:
        return f.call(self, first, rest[0], rest[1]);
      default:
        return Reflect.apply(f, self, [first, ...rest]);
    }
  } finally {
    target.depth--;
  }
}
