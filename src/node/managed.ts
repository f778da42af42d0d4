/**
 * The base of every managed Node resource: a {@link Revocable} whose `release` closes the Node
 * object, with the options they all share.
 *
 * A managed resource *is* a `Revocable`, so `tryWith`, `with`, `handle()`, `proxy()`, `accesses`,
 * `state` and `revoke({ timeout })` behave exactly as the core's; what each subclass adds is the
 * kick (what happens to work in flight when the revoke starts) and the release (how the Node object
 * is closed once it has drained).
 *
 * Invariants:
 * 1. `revoke()` with no `timeout` uses the one given at creation, so `await using` and any scope
 *    (`[Symbol.asyncDispose]`) get the same bound as an explicit call.
 * 2. A `signal` given at creation revokes the resource when it aborts (in a microtask if it is
 *    aborted already); the listener is removed at the first revoke, so a long-lived parent signal
 *    holds no reference to revoked resources. A failure of such a revoke, which nobody awaits, is
 *    reported with `process.emitWarning`; a later `revoke()` rejects with it too.
 * 3. `signal` (the getter) is the kick: aborted, with a `RevokedError` as reason, from the first
 *    synchronous step of the revoke. It is the signal every access gets.
 *
 * @module
 */
import { Revocable, type RevokeOptions } from '../revocable.js';
import { checkDuration, checkOptionalFunction, checkOptionalString, checkOptions } from '../internal/validate.js';
import { checkOptionalSignal, warn } from './internal/util.js';

/** Options every managed Node resource takes. */
export interface ManagedOptions {
  /** A name for messages and diagnostics: `'api server'`, `'/var/log/app.log'`. */
  name?: string;
  /**
   * The default bound of `revoke()` (and of `[Symbol.asyncDispose]`) in milliseconds: see each
   * resource for what happens when it passes. Default: `Infinity`.
   */
  timeout?: number;
  /** Revokes the resource when this signal aborts: tie it to a parent's lifetime. */
  signal?: AbortSignal;
}

/**
 * A {@link Revocable} owning a Node object: the common base of the managed forms of
 * `revocable/node`. Build your own managed form by extending it with a `release` that closes the
 * object.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { ManagedResource } from 'revocable/node';
 *
 * const connection = { open: true, query: async (sql: string) => `rows of ${sql}`, end() { this.open = false; } };
 * const db = new ManagedResource(connection, { name: 'db', timeout: 5_000 }, (c) => c.end());
 * const query = db.with((c) => c.query('select 1'));
 * await db.revoke(); // waits for queries in flight (at most 5 s), then c.end()
 * assert.equal(await query, 'rows of select 1');
 * assert.equal(connection.open, false);
 * ```
 */
export class ManagedResource<T> extends Revocable<T> {
  readonly #timeout: number;
  /** The kick signal, taken at creation so that it stays readable after the revoke. */
  readonly #kick: AbortSignal;
  /** The parent signal and our listener on it, until the first revoke. */
  #parent: { signal: AbortSignal; listener: () => void } | undefined;

  /**
   * @param resource the Node object.
   * @param options `name`, default `timeout`, parent `signal`.
   * @param release closes the Node object once every access has ended; without it,
   *   {@link ManagedResource.releaseResource} does (subclasses override that).
   */
  constructor(resource: T, options?: ManagedOptions, release?: (resource: T) => unknown) {
    const { name, timeout, signal: parent } = readManagedOptions(options);
    checkOptionalFunction(release, 'release');
    // The release is called long after construction; it reaches the instance through `late`.
    const late: { self?: ManagedResource<T> } = {};
    const close = release ?? ((r: T) => (late.self as ManagedResource<T>).releaseResource(r));
    super(resource, name === undefined ? { release: close } : { name, release: close });
    late.self = this;
    this.#timeout = timeout;
    // The core's own tryWith: a subclass may override it with one that needs its fields, not set yet.
    this.#kick = Revocable.prototype.tryWith.call(this, kickSignal) as AbortSignal;
    if (parent !== undefined) {
      const listener = (): void => {
        this.revoke().catch(warn);
      };
      // Already aborted: revoke once the subclass constructor has run (its kick and release may
      // use fields it has not set yet).
      if (parent.aborted) queueMicrotask(listener);
      else {
        this.#parent = { signal: parent, listener };
        parent.addEventListener('abort', listener, { once: true });
      }
    }
  }

  /**
   * Closes the Node object, once the drain is over; runs once. The default does nothing: override
   * it in a subclass, or pass `release` to the constructor.
   */
  protected releaseResource(_resource: T): unknown {
    return undefined;
  }

  /** The default `timeout` of `revoke()`, in milliseconds. */
  get timeout(): number {
    return this.#timeout;
  }

  /**
   * Aborted, with a `RevokedError` as reason, when the revoke starts: the kick. Hand it to work that
   * should stop when the resource goes away (a long poll, a stream, a websocket).
   */
  get signal(): AbortSignal {
    return this.#kick;
  }

  /**
   * Revokes the resource: no new access, the kick, the drain, then the release that closes the
   * Node object. `timeout` defaults to the one given at creation.
   */
  override revoke(options?: RevokeOptions): Promise<boolean> {
    checkOptions(options);
    const timeout = checkDuration(options?.timeout, 'options.timeout', this.#timeout);
    const parent = this.#parent;
    if (parent !== undefined) {
      this.#parent = undefined;
      parent.signal.removeEventListener('abort', parent.listener);
    }
    return this.drain(timeout);
  }

  /**
   * The revoke proper, once the options are checked: the core's drain bounded by `timeout`.
   * Subclasses whose timeout means something else (a deadline after which connections are cut)
   * override this.
   */
  protected drain(timeout: number): Promise<boolean> {
    return super.revoke(timeout === Infinity ? undefined : { timeout });
  }
}

/** The options every managed resource shares, each read once and checked. */
export interface ManagedSettings {
  readonly name: string | undefined;
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * Reads and checks the options every managed resource shares, each exactly once (a getter is not
 * asked twice), for a caller that must check before it creates the Node object (so that a bad call
 * leaks nothing) or that passes them on with its own default `name`.
 */
export function readManagedOptions(options: ManagedOptions | undefined): ManagedSettings {
  checkOptions(options);
  const name = options?.name;
  const timeout = options?.timeout;
  const signal = options?.signal;
  checkOptionalString(name, 'options.name');
  const checked = checkDuration(timeout, 'options.timeout', Infinity);
  checkOptionalSignal(signal, 'options.signal');
  return { name, timeout: checked, signal };
}

/** Settings as an options bag again, without the `undefined` ones: what a subclass passes to `super`. */
export function managedOptions(settings: ManagedSettings, name: string | undefined = settings.name): ManagedOptions {
  const options: ManagedOptions = { timeout: settings.timeout };
  if (name !== undefined) options.name = name;
  if (settings.signal !== undefined) options.signal = settings.signal;
  return options;
}

const kickSignal = (_resource: unknown, signal: AbortSignal): AbortSignal => signal;
