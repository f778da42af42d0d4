/**
 * The finalization tracker: warns, once per creation site, when a handle, access or open file is
 * garbage collected without having been released. An access collected that way is the worst case:
 * its provider's revoke will wait for it forever.
 *
 * Invariants:
 * 1. The registry holds records, never the tracked objects, so tracking does not keep them alive.
 * 2. A record is unregistered when its object is released, so released objects cost nothing more.
 * 3. A handle whose provider was revoked holds nothing: collecting it unclosed is no leak.
 */
import { captureStack, listen, type TrackedKind } from './hooks.js';

interface Record {
  readonly kind: TrackedKind;
  readonly site: string;
  readonly owner: object | undefined;
  readonly name: string | undefined;
}

const WATCHED: ReadonlySet<TrackedKind> = new Set(['handle', 'access', 'open file']);

/** Starts the tracker; `warn` receives each message. Returns the function that stops it. */
export function trackCollected(warn: (message: string) => void): () => void {
  const warnedSites = new Set<string>();
  const releasedOwners = new WeakSet<object>();
  const registry = new FinalizationRegistry<Record>((record) => {
    if (record.owner !== undefined && record.kind === 'handle' && releasedOwners.has(record.owner)) return;
    if (warnedSites.has(record.site)) return;
    warnedSites.add(record.site);
    const article = /^[aeiou]/.test(record.kind) ? 'An' : 'A';
    const what = `${article} ${record.kind}${record.name === undefined ? '' : ` of "${record.name}"`}`;
    const consequence = record.kind === 'access' ? ': a revoke of its provider will wait for it forever' : '';
    warn(`${what} was garbage collected without being released${consequence}. Created at:\n${record.site}`);
  });
  return listen({
    created(kind, object, owner) {
      if (!WATCHED.has(kind)) return;
      const name = (owner as { name?: unknown } | undefined)?.name;
      registry.register(object, { kind, site: captureStack(), owner, name: typeof name === 'string' ? name : undefined }, object);
    },
    released(kind, object) {
      if (kind === 'revocable') releasedOwners.add(object);
      else if (WATCHED.has(kind)) registry.unregister(object);
    },
  });
}
