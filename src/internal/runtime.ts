/**
 * Small adaptations to the runtime the core finds itself in, each feature-detected so that the core
 * runs unchanged in browsers, workers, Deno, Bun and Node.
 */

type SetMaxListeners = (n: number, ...targets: EventTarget[]) => void;

let setMaxListeners: SetMaxListeners | null | undefined;

/**
 * Lifts the listener-count warning from a signal shared by many concurrent operations. A provider's
 * signal is shared by every access in flight, so 11 concurrent `fetch`es through one provider are
 * normal, not a leak; Node would print "Possible EventTarget memory leak detected" for them. Where
 * `events.setMaxListeners` is not reachable (any other runtime) there is no such warning to lift.
 */
export function allowManyListeners(target: EventTarget): void {
  if (setMaxListeners === undefined) {
    const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => { setMaxListeners?: SetMaxListeners } | undefined } }).process;
    setMaxListeners = host?.getBuiltinModule?.('node:events')?.setMaxListeners ?? null;
  }
  setMaxListeners?.(0, target);
}
