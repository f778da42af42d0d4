/**
 * Lifecycle hooks: how diagnostics (debug mode, the leak tracker, the finalization tracker) learn
 * what is created and released, without production code paying for them.
 *
 * Invariants:
 * 1. `hooks` is `undefined` while nothing listens, so a creation or release site pays one load and
 *    one comparison: `hooks?.created(...)`. The synchronous `tryWith` path has no hook at all.
 * 2. Every tracked object reports `created` once, and `released` at most once, when it stops
 *    holding anything (an access released, a handle closed, a provider's revoke started, a scope
 *    disposed, a ref dropped, a file closed or revoked).
 */

/**
 * What diagnostics track. A `'scope entry'` (what `scope.add()` returns) reports only its creation:
 * it is released with its scope, so it is never a leak of its own. A `'node generation'` is the
 * gate of a device node's open files, revoked and replaced with the node: never a leak of its own
 * either. A `'file operation'` is one operation in flight on an open file: a holder of its node's
 * gate, which debug mode lists when a drain times out.
 *
 * @inline
 */
export type TrackedKind = 'revocable' | 'handle' | 'access' | 'scope' | 'scope entry' | 'ref' | 'open file' | 'node generation' | 'file operation';

export interface LifecycleHooks {
  /** `object` of `kind` was created; `owner` is what it belongs to (an access's provider, ...). */
  created(kind: TrackedKind, object: object, owner: object | undefined): void;
  /** `object` stopped holding anything. */
  released(kind: TrackedKind, object: object): void;
}

/** The hooks in force, or `undefined` when nothing listens. Read it as a live binding. */
export let hooks: LifecycleHooks | undefined;

const listeners = new Set<LifecycleHooks>();

function recompute(): void {
  if (listeners.size === 0) {
    hooks = undefined;
  } else if (listeners.size === 1) {
    hooks = listeners.values().next().value;
  } else {
    const all = [...listeners];
    hooks = {
      created: (kind, object, owner) => {
        for (const h of all) h.created(kind, object, owner);
      },
      released: (kind, object) => {
        for (const h of all) h.released(kind, object);
      },
    };
  }
}

/** Starts listening; returns the function that stops. */
export function listen(listener: LifecycleHooks): () => void {
  listeners.add(listener);
  recompute();
  return () => {
    listeners.delete(listener);
    recompute();
  };
}

// The library's own folder (src/ or dist/): its frames are left out of the stacks shown to users,
// who want to see where *their* code took the access, not how the library got there.
const ownFolder = new URL('..', import.meta.url);
const ownPrefixes = [ownFolder.href, decodeURIComponent(ownFolder.pathname)];

/** The stack of the code that called into the library, without the library's own frames. */
export function captureStack(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1);
  const outside = lines.filter((line) => !ownPrefixes.some((prefix) => line.includes(prefix)));
  return outside.map((line) => line.trim()).join('\n');
}
