/**
 * What the shutdown root learns from the servers draining in this process: the requests each one
 * cut at its deadline, and how many are still in flight. Servers report here whether or not
 * anyone listens; the root listens while it releases, so that its log and exit code can say what
 * was cut wherever in the program the server lives (in the root, a layer, a nested scope, a
 * `defer`).
 *
 * Invariants:
 * 1. A cut is reported once, to every watcher registered at that moment.
 * 2. A server is in `draining` from its kick until it is released; a watcher's failure never
 *    reaches the server.
 *
 * @module
 */
import type { CutRequest } from './http-connections.js';

export interface DrainingServer {
  readonly name: string | undefined;
  /** Requests (and upgraded connections) still open. */
  readonly inFlight: number;
}

type Watcher = (server: string | undefined, cut: readonly CutRequest[]) => void;

const watchers = new Set<Watcher>();
/** The servers between their kick and their release. */
export const draining = new Set<DrainingServer>();

/** Calls `watcher` for every cut from now on; returns the function that stops it. */
export function watchCuts(watcher: Watcher): () => void {
  watchers.add(watcher);
  return () => void watchers.delete(watcher);
}

export function reportCut(server: string | undefined, cut: readonly CutRequest[]): void {
  for (const watcher of [...watchers]) {
    try {
      watcher(server, cut);
    } catch {
      // invariant 2: the server's deadline goes on
    }
  }
}
