/**
 * Debug mode: finds out, in seconds, why a revoke hangs.
 *
 * Switched on by `enableDebug()` or by the environment variable `REVOCABLE_DEBUG=1` (read once, at
 * load, where the runtime has `process.env`). While on:
 * 1. every access, handle, provider, scope, ref and open file records where it was taken;
 * 2. a revoke whose drain times out rejects with a {@link DrainTimeoutError} whose `holders` list
 *    each access still held, with the stack where it was taken;
 * 3. a revoke *awaited* from inside an access to the same provider (it would wait for itself
 *    forever) rejects at once with a {@link RevokeDeadlockError} carrying both stacks. This needs an
 *    async context to know which accesses the awaiting code is inside: `revocable/node` supplies
 *    one built on `AsyncLocalStorage` (its `enableDebug` passes it); elsewhere pass your own;
 * 4. handles, accesses and open files collected without being released are reported once per
 *    creation site;
 * 5. with an async context, a device node revoked from inside one of its own file operations is
 *    refused (`EDEADLK`) after the operation's `await`s too, not only in its synchronous part.
 *
 * Production pays nothing: debug mode replaces `tryWith`/`with`/`revoke` on the prototype while on
 * and puts the originals back when off; creation sites pay one `undefined` check.
 *
 * @module
 */
import { DrainTimeoutError, RevokeDeadlockError, type Holder } from './errors.js';
import { captureStack, listen, type TrackedKind } from './internal/hooks.js';
import { trackCollected } from './internal/collected.js';
import { isThenable, noop } from './internal/promise.js';
import { checkFunction, checkOptionalFunction, checkOptions, expected, isObjectArgument } from './internal/validate.js';
import { Revocable, gate } from './revocable.js';
import { setReentrancyTracker, type ReentrancyTracker } from './internal/reentrancy.js';

/** An async context: the minimum debug mode needs of `AsyncLocalStorage` (or TC39 `AsyncContext`). */
export interface AsyncContextLike<F> {
  /** Runs `fn` with `frame` as the current frame, for everything `fn` starts, sync or async. */
  run<R>(frame: F, fn: () => R): R;
  /** Makes `frame` current for the rest of the running code and everything it starts. */
  enter(frame: F): void;
  /** The current frame, if any. */
  current(): F | undefined;
}

/** What debug mode keeps in the async context: the accesses the running code is inside. */
export interface AccessFrame {
  /** The provider the access is to. */
  readonly provider: object;
  /** The access, as debug mode records it. */
  readonly holder: HolderRecord;
  /** The access the code was already inside when it took this one, if any. */
  readonly parent: AccessFrame | undefined;
}

/**
 * A {@link Holder} as debug mode records it.
 *
 * @inline
 */
interface HolderRecord extends Holder {
  /** Whether the access is still held. */
  active: boolean;
}

/** Options of {@link enableDebug}. */
export interface DebugOptions {
  /** An async context (see {@link AsyncContextLike}); without one, deadlocks are bounded by timeouts only. */
  asyncContext?: AsyncContextLike<AccessFrame>;
  /** Where reports go that are not errors (objects collected unreleased). Default: `console.warn`. */
  warn?: (message: string) => void;
  /**
   * Tells, from inside a promise's `then`, whether the engine called it (an `await`, a combinator,
   * an async function returning the promise) rather than the program's own code. With an async
   * context, it is what tells a revoke *awaited* inside its own access (a deadlock, reported) from
   * one merely started there. `revocable/node`'s `enableDebug` passes one that reads V8's stacks;
   * without one, such a revoke is bounded by its `timeout` only.
   */
  isAwaited?: () => boolean;
}


interface Session {
  readonly context: AsyncContextLike<AccessFrame> | undefined;
  readonly stop: () => void;
}

let session: Session | undefined;
const sites = new WeakMap<object, string>();
const holders = new WeakMap<object, Set<HolderRecord>>();

function holdersOf(provider: object): Set<HolderRecord> {
  let set = holders.get(provider);
  if (set === undefined) holders.set(provider, (set = new Set()));
  return set;
}

/** Whether debug mode is on. */
export function isDebugEnabled(): boolean {
  return session !== undefined;
}

/** Where `object` (an access, handle, provider, scope, ref or open file) was created, in debug mode. */
export function creationSite(object: object): string | undefined {
  return sites.get(object);
}

/**
 * Switches debug mode on (see the module). Calling it again replaces the options.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { DrainTimeoutError, Revocable, enableDebug } from 'revocable';
 *
 * enableDebug();
 * const provider = new Revocable({ path: '/dev/ttyUSB0' });
 * const access = provider.access(); // a holder that forgot to release
 * const error = await provider.revoke({ timeout: 10 }).catch((e: unknown) => e);
 * assert.ok(error instanceof DrainTimeoutError);
 * assert.equal(error.holders[0]?.kind, 'access'); // with the stack where it was taken
 * access.release(); // the drain ends, the revoke completes
 * ```
 */
export function enableDebug(options: DebugOptions = {}): void {
  checkOptions(options);
  // Each option, and each method of the context, is read once: what is checked is what is used.
  const { asyncContext, warn: givenWarn, isAwaited } = options;
  let context: AsyncContextLike<AccessFrame> | undefined;
  if (asyncContext !== undefined) {
    if (!isObjectArgument(asyncContext)) throw expected('an async context ({ run, enter, current }) or undefined', 'options.asyncContext', asyncContext);
    const { run, enter, current } = asyncContext;
    checkFunction(run, 'options.asyncContext.run');
    checkFunction(enter, 'options.asyncContext.enter');
    checkFunction(current, 'options.asyncContext.current');
    context = {
      run: <R>(frame: AccessFrame, fn: () => R): R => run.call(asyncContext, frame, fn) as R,
      enter: (frame) => enter.call(asyncContext, frame),
      current: () => current.call(asyncContext),
    };
  }
  checkOptionalFunction(givenWarn, 'options.warn');
  checkOptionalFunction(isAwaited, 'options.isAwaited');
  const warn = givenWarn ?? ((message: string) => console.warn(`revocable: ${message}`));
  disableDebug();

  const stopListening = listen({
    created(kind: TrackedKind, object: object, owner: object | undefined) {
      const stack = captureStack();
      sites.set(object, stack);
      if ((kind === 'access' || kind === 'file operation') && owner !== undefined) {
        const holder: HolderRecord = { kind, stack, active: true };
        holdersOf(owner).add(holder);
        accessHolders.set(object, { owner, holder });
        // An access token is held by the code that took it, for the rest of its task; a file
        // operation's own call is followed by the device gates' tracker instead.
        if (kind === 'access') context?.enter({ provider: owner, holder, parent: context.current() });
      }
    },
    released(kind: TrackedKind, object: object) {
      if (kind !== 'access' && kind !== 'file operation') return;
      const entry = accessHolders.get(object);
      if (entry === undefined) return;
      entry.holder.active = false;
      holders.get(entry.owner)?.delete(entry.holder);
    },
  });
  const stopCollected = trackCollected(warn);
  const restore = patchRevocable(context, isAwaited);
  if (context !== undefined) setReentrancyTracker(reentrancyOn(context));
  session = {
    context,
    stop: () => {
      if (context !== undefined) setReentrancyTracker(undefined);
      restore();
      stopCollected();
      stopListening();
    },
  };
}

/** Switches debug mode off; what it recorded stays readable through {@link creationSite}. */
export function disableDebug(): void {
  session?.stop();
  session = undefined;
}

const accessHolders = new WeakMap<object, { owner: object; holder: HolderRecord }>();

type Fn = (resource: unknown, signal: AbortSignal) => unknown;

function patchRevocable(context: AsyncContextLike<AccessFrame> | undefined, awaited: (() => boolean) | undefined): () => void {
  const proto = Revocable.prototype as unknown as Record<'tryWith' | 'with' | 'revoke', (this: Revocable<unknown>, ...args: unknown[]) => unknown>;
  const original = { tryWith: proto.tryWith, with: proto.with, revoke: proto.revoke };

  // tryWith/with: a holder for the duration of fn, sync or async, and a frame in the async context.
  const scoped = (method: 'tryWith' | 'with') =>
    function (this: Revocable<unknown>, fn: unknown): unknown {
      if (typeof fn !== 'function') return original[method].call(this, fn);
      const stack = captureStack();
      return original[method].call(this, (resource: unknown, signal: AbortSignal) => {
        const holder: HolderRecord = { kind: `access (${method})`, stack, active: true };
        const set = holdersOf(this);
        set.add(holder);
        const done = (): void => {
          holder.active = false;
          set.delete(holder);
        };
        // The adoption of a returned promise happens inside the frame too, so that a revoke the
        // access returns (`() => provider.revoke().then(...)`) is seen being awaited by it.
        const call = (): unknown => {
          try {
            const result = (fn as Fn)(resource, signal);
            if (isThenable(result)) return Promise.resolve(result).finally(done);
            done();
            return result;
          } catch (error) {
            done();
            throw error;
          }
        };
        return context === undefined ? call() : context.run({ provider: this, holder, parent: context.current() }, call);
      });
    };

  proto.tryWith = scoped('tryWith');
  proto.with = scoped('with');
  proto.revoke = function (this: Revocable<unknown>, options: unknown): Promise<boolean> {
    const promise = original.revoke.call(this, options) as Promise<boolean>;
    const revokeStack = captureStack();
    const what = gate.describe(this);
    const reported = promise.catch((error: unknown) => {
      if (!(error instanceof DrainTimeoutError) || error.holders.length > 0) throw error;
      const held = [...holdersOf(this)].map(({ kind, stack }) => ({ kind, stack }));
      throw new DrainTimeoutError(what, error.timeout, error.pending, held, error.resourceName);
    });
    if (context === undefined || awaited === undefined) return reported;
    return new GuardedRevoke(reported, { provider: this, context, awaited, what, revokeStack, reject: noop });
  };
  return () => {
    proto.tryWith = original.tryWith;
    proto.with = original.with;
    proto.revoke = original.revoke;
  };
}

/**
 * The device model's gates (device nodes, bindings) ask "is the running code inside one of my own
 * calls?" before a revoke that would wait for itself. Without a context they can tell only during
 * a call's synchronous part; with one, after its `await`s too.
 */
function reentrancyOn(context: AsyncContextLike<AccessFrame>): ReentrancyTracker {
  return {
    wrap(target, call) {
      const holder: HolderRecord = { kind: 'device call', stack: '', active: true };
      const done = (): void => {
        holder.active = false;
      };
      try {
        const result = context.run({ provider: target, holder, parent: context.current() }, call);
        if (isThenable(result)) Promise.resolve(result).then(done, done);
        else done();
        return result;
      } catch (error) {
        done();
        throw error;
      }
    },
    isInside(target) {
      for (let frame = context.current(); frame !== undefined; frame = frame.parent) {
        if (frame.provider === target && frame.holder.active) return true;
      }
      return false;
    },
  };
}

/** What the promises derived from one guarded revoke share. */
interface Guard {
  readonly provider: object;
  readonly context: AsyncContextLike<AccessFrame>;
  readonly awaited: () => boolean;
  readonly what: string;
  readonly revokeStack: string;
  /** Rejects the revoke's own promise: set by the first promise of the chain. */
  reject: (error: unknown) => void;
}

/**
 * The promise a revoke returns in debug mode with an async context. `await` (and promise
 * combinators, and returning it from an async function) call `then` from a job of their own, with no
 * caller on the stack; a plain `.then(...)` call has one (`awaited` tells them apart). Only the
 * former makes the awaiting code wait, so only the former, from inside an access to the same
 * provider, is a deadlock. It is reported through the promises: the revoke's own promise rejects
 * with the {@link RevokeDeadlockError}, so every handler of the chain (`revoke().then(ok, fail)`
 * calls `fail`) sees it; `then` itself never throws.
 */
class GuardedRevoke extends Promise<boolean> {
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  readonly #guard: Guard | undefined;

  constructor(inner: Promise<boolean> | ((resolve: (value: boolean) => void, reject: (error: unknown) => void) => void), guard?: Guard) {
    let reject!: (error: unknown) => void;
    super((resolve, rejectOwn) => {
      reject = rejectOwn;
      if (typeof inner === 'function') inner(resolve, rejectOwn);
      else inner.then(resolve, rejectOwn);
    });
    if (guard !== undefined && guard.reject === noop) guard.reject = reject;
    this.#guard = guard;
  }

  override then<A = boolean, B = never>(
    onFulfilled?: ((value: boolean) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const guard = this.#guard;
    if (guard !== undefined) {
      const frame = held(guard);
      if (frame !== undefined && guard.awaited()) guard.reject(new RevokeDeadlockError(guard.what, frame.holder.stack, guard.revokeStack));
    }
    const derived = super.then(onFulfilled, onRejected);
    if (guard === undefined) return derived;
    // `revoke().then(f)` awaited is the same deadlock one step later: guard what derives from it.
    // (A guard only looks at who awaits; the value passes through untouched, whatever its type.)
    return new GuardedRevoke(derived as Promise<never>, guard) as unknown as Promise<A | B>;
  }
}

/** The innermost active access to the guarded provider that the current code is inside, if any. */
function held(guard: Guard): AccessFrame | undefined {
  for (let frame = guard.context.current(); frame !== undefined; frame = frame.parent) {
    if (frame.provider === guard.provider && frame.holder.active) return frame;
  }
  return undefined;
}

// REVOCABLE_DEBUG=1 switches debug mode on at load, where the runtime has an environment.
const environment = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
if (environment !== undefined && /^(?:1|true|yes|on)$/i.test(environment['REVOCABLE_DEBUG'] ?? '')) enableDebug();
