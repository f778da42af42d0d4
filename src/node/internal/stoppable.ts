/**
 * The life shared by a managed worker thread and a managed child process: something that runs on
 * its own, can exit by itself, can be asked to stop, and can be forced. `ManagedWorker` and
 * `ManagedChildProcess` extend it and say how each step is done.
 *
 * Invariants:
 * 1. An exit, whatever its cause, revokes the resource: from that moment no job starts, and every
 *    job in flight (a `with`/`tryWith` whose callback returned a promise) rejects at once with a
 *    `RevokedError` whose `cause` says how it ended. Its access is released then, so no revoke
 *    waits for a job whose thread or process is gone.
 * 2. The revoke: the kick (every job's signal aborts), the jobs settle, then the polite stop
 *    (`stop(worker)`, `killSignal`), then the exit. `grace` ms after the revoke started (sooner for
 *    a revoke with a shorter `timeout`), whatever still runs is forced (`terminate()`, `SIGKILL`)
 *    and `exit.forced` says so. The revoke never rejects with `DrainTimeoutError`, and never
 *    resolves while the thread or process runs.
 * 3. The polite stop and the force each happen at most once, never after the exit. A polite stop
 *    that throws, or returns a thenable that rejects or whose `then` throws, is reported as a
 *    warning and followed by the force at once: nothing is left waiting on it.
 * 4. An access taken with `access()`/`tryAccess()` is the caller's to release: an exit does not
 *    end it, and the revoke waits for it (jobs through `with` are what the exit ends).
 *
 * @module
 */
import { RevokedError, describeName } from '../../errors.js';
import type { Access } from '../../revocable.js';
import { deferred, type Deferred } from '../../internal/promise.js';
import { checkFunction } from '../../internal/validate.js';
import { ManagedResource, type ManagedOptions } from '../managed.js';
import { warn } from './util.js';

/** A job in flight: what ends it when the thread or process exits first. */
interface Job {
  readonly fail: (error: unknown) => void;
}

type Life =
  | { readonly kind: 'running' }
  | { readonly kind: 'stopping'; deadline: number; timer: ReturnType<typeof setTimeout> | undefined }
  | { readonly kind: 'exited'; readonly error: RevokedError };

const RUNNING: Life = { kind: 'running' };

/**
 * A managed resource that runs on its own (a thread, a process): see the module. Subclasses give
 * the polite stop and the force, and call {@link Stoppable.exitHappened} from their exit handler.
 */
export abstract class Stoppable<T> extends ManagedResource<T> {
  readonly #grace: number;
  readonly #what: string;
  #life: Life = RUNNING;
  readonly #jobs = new Set<Job>();
  readonly #exited: Deferred<void> = deferred();
  #forced = false;
  #asked = false;
  /** The thread or process, for the force (which may come while the drain runs); dropped at the exit. */
  #held: T | undefined;

  /**
   * @param kind the class name, for messages (`ManagedWorker "worker 3" exited with code 1`).
   * @param options a fresh options bag (read by the caller already).
   * @param grace milliseconds from the revoke to the force (checked by the caller).
   */
  constructor(kind: string, resource: T, options: ManagedOptions, grace: number) {
    super(resource, options);
    this.#held = resource;
    this.#grace = grace;
    this.#what = describeName(kind, options.name);
  }

  /** The polite stop (`stop(worker)`, `kill(killSignal)`), or `undefined` when there is none. */
  protected abstract get politeStop(): ((resource: T) => unknown) | undefined;
  /** Ends it now (`terminate()`, `SIGKILL`). */
  protected abstract force(resource: T): void;

  /**
   * The subclass's exit handler calls this, once, when the thread or process has ended, with how
   * it ended (`exited with code 1`) and what caused it, if known (an uncaught error). From the
   * subclass's constructor (it had exited before it was managed), pass `later`: the revoke then
   * waits for a microtask, until every constructor has run.
   */
  protected exitHappened(how: string, cause: unknown, later = false): void {
    if (this.#life.kind === 'exited') return;
    const life = this.#life;
    if (life.kind === 'stopping' && life.timer !== undefined) clearTimeout(life.timer);
    const error = new RevokedError(`${this.#what} ${how}`, cause === undefined ? { resourceName: this.name } : { resourceName: this.name, cause });
    this.#life = { kind: 'exited', error };
    this.#held = undefined;
    for (const job of [...this.#jobs]) job.fail(error);
    const revoke = (): void => {
      if (!this.revoked) this.revoke().catch(warn);
    };
    if (later) queueMicrotask(revoke);
    else revoke();
    this.#exited.resolve();
  }

  /** Resolves when the thread or process has ended, whether by the revoke or by itself. */
  get exited(): Promise<void> {
    return this.#exited.promise;
  }

  /** Whether the end was forced (`terminate()`, `SIGKILL`). */
  protected get forced(): boolean {
    return this.#forced;
  }

  /**
   * Runs `fn(resource, signal)` as a job, or returns `undefined` once revoked or exited. A promise
   * returned by `fn` holds the access until it settles, or until the thread or process exits:
   * then the job rejects at once with a `RevokedError` saying how it ended.
   */
  override tryWith<R>(fn: (resource: T, signal: AbortSignal) => R): R | undefined {
    checkFunction(fn, 'fn');
    const access = this.#life.kind === 'exited' ? null : this.tryAccess();
    return access === null ? undefined : this.#run(access, fn);
  }

  /** As {@link tryWith}, but throws a `RevokedError` once revoked or exited. */
  override with<R>(fn: (resource: T, signal: AbortSignal) => R): R {
    checkFunction(fn, 'fn');
    const life = this.#life;
    if (life.kind === 'exited') throw life.error;
    return this.#run(this.access(), fn);
  }

  #run<R>(access: Access<T>, fn: (resource: T, signal: AbortSignal) => R): R {
    let result: R;
    let then: unknown;
    try {
      result = fn(access.value, access.signal);
      // Read once: a getter (a revoked Proxy's trap) may throw, and that is the job failing.
      then = result !== null && (typeof result === 'object' || typeof result === 'function') ? (result as { then?: unknown }).then : undefined;
    } catch (error) {
      access.release();
      throw error;
    }
    if (typeof then !== 'function') {
      access.release();
      return result;
    }
    return this.#job(access, result, then as PromiseLike<unknown>['then']) as R;
  }

  #job(access: Access<T>, thenable: unknown, then: PromiseLike<unknown>['then']): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const finish = (settle: () => void): void => {
        if (!this.#jobs.delete(job)) return;
        access.release();
        settle();
      };
      const job: Job = { fail: (error) => finish(() => reject(error)) };
      this.#jobs.add(job);
      try {
        then.call(
          thenable,
          (value) => finish(() => resolve(value)),
          (error: unknown) => finish(() => reject(error)),
        );
      } catch (error) {
        job.fail(error);
      }
    });
  }

  /** The revoke's bound: the force at `grace` after the start, or sooner for a shorter `timeout`. */
  protected override drain(timeout: number): Promise<boolean> {
    const done = super.drain(Infinity);
    if (this.#life.kind === 'running') this.#life = { kind: 'stopping', deadline: Infinity, timer: undefined };
    const bound = Math.min(this.#grace, timeout);
    const stopping = this.#life;
    if (stopping.kind === 'stopping' && bound !== Infinity) {
      const deadline = performance.now() + bound;
      if (deadline < stopping.deadline) {
        if (stopping.timer !== undefined) clearTimeout(stopping.timer);
        stopping.deadline = deadline;
        stopping.timer = setTimeout(() => this.#force(), bound);
      }
    }
    return done;
  }

  /** After the drain: the polite stop, then wait for the exit (the deadline forces it). */
  protected override async releaseResource(resource: T): Promise<void> {
    if (this.#life.kind !== 'exited' && !this.#asked) {
      this.#asked = true;
      if (!this.#askPolitely(resource)) this.#force();
    }
    await this.#exited.promise;
  }

  /** Invariant 3: true when asked and now waiting; false when there is no polite way, or it failed. */
  #askPolitely(resource: T): boolean {
    const stop = this.politeStop;
    if (stop === undefined) return false;
    try {
      const asked = stop(resource);
      const then = asked !== null && (typeof asked === 'object' || typeof asked === 'function') ? (asked as { then?: unknown }).then : undefined;
      if (typeof then === 'function') {
        (then as PromiseLike<unknown>['then']).call(asked, undefined, (error: unknown) => {
          warn(error);
          this.#force();
        });
      }
      return true;
    } catch (error) {
      warn(error);
      return false;
    }
  }

  #force(): void {
    if (this.#life.kind === 'exited' || this.#forced) return;
    this.#forced = true;
    try {
      this.force(this.#held as T);
    } catch (error) {
      warn(error);
    }
  }
}
