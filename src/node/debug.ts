/**
 * Debug mode in Node, with async context tracking: `AsyncLocalStorage` tells which accesses the
 * running code is inside, across every `await`, so a revoke awaited from inside an access to the
 * same provider is reported at once (with both stacks) instead of hanging.
 *
 * `REVOCABLE_DEBUG=1` switches it on when this module loads (the core alone switches on debug mode
 * without async context).
 *
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { enableDebug as enableCoreDebug, type AccessFrame, type AsyncContextLike, type DebugOptions } from '../debug.js';

/** An {@link AsyncContextLike} on Node's `AsyncLocalStorage`. */
export function asyncLocalContext<F>(): AsyncContextLike<F> {
  const storage = new AsyncLocalStorage<F>();
  return {
    run: (frame, fn) => storage.run(frame, fn),
    enter: (frame) => storage.enterWith(frame),
    current: () => storage.getStore(),
  };
}

/**
 * Switches debug mode on with async context tracking (see `enableDebug` of the core for the rest).
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Revocable, RevokeDeadlockError } from 'revocable';
 * import { enableDebug } from 'revocable/node';
 *
 * enableDebug();
 * const provider = new Revocable({ path: '/dev/ttyUSB0' });
 * const handle = provider.handle();
 * await assert.rejects(handle.with(async () => { await provider.revoke(); }), RevokeDeadlockError); // at once
 * assert.equal(provider.state, 'revoked'); // the revoke completed once the access ended
 * ```
 */
export function enableDebug(options: DebugOptions = {}): void {
  enableCoreDebug({ asyncContext: asyncLocalContext<AccessFrame>(), isAwaited: calledByEngine, ...options });
}

/**
 * True when the `then` being run was called by the engine (an `await`, a combinator, an async
 * function adopting a returned promise), false when the program called it. V8 (Node's engine) gives
 * every frame of the program's code a source location, and none to the jobs that call `then`.
 */
export function calledByEngine(): boolean {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  // This function, then the guarded promise's `then`; below them, a caller with a source location
  // is code that called `then` itself (`.then`, `.catch`, `.finally` are built-ins without one).
  return lines.slice(2).every((line) => !/:\d+:\d+\)?$/.test(line.trim()));
}

if (/^(?:1|true|yes|on)$/i.test(process.env['REVOCABLE_DEBUG'] ?? '')) enableDebug();
