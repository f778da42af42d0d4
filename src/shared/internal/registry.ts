/**
 * The shared resources this thread created or attached, so that a thread that outlives a worker
 * (`revocable/node`'s `manageWorker`, on the worker's `exit`) can count that worker's slots as
 * drained in every one of them without knowing which it used.
 *
 * Invariants:
 * 1. An object is here from its `create`/`attach` until its revoke has finished or it has detached;
 *    past that point nothing can wait on a slot any more, so nothing needs reclaiming.
 *
 * @module
 */

/** What the registry needs of a shared resource. */
export interface Reclaimable {
  reclaim(threadId: number): number;
}

const attached = new Set<Reclaimable>();

export function register(object: Reclaimable): void {
  attached.add(object);
}

export function unregister(object: Reclaimable): void {
  attached.delete(object);
}

/**
 * Counts the slots of thread `threadId` (a worker that exited) as drained in every shared resource
 * this thread holds. Returns how many slots were reclaimed.
 */
export function reclaimThread(threadId: number): number {
  let count = 0;
  for (const object of [...attached]) count += object.reclaim(threadId);
  return count;
}
