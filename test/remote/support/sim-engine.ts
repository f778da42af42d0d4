/**
 * A simulated world for the protocol model: virtual time, processes that can be paused or killed,
 * a network that delays, fails and loses messages, and an engine that keeps the layout of Redis or
 * of etcd (same backend interface, the engine's own rules for leases and tokens). The real holder
 * and revoker code runs on it through injected runtimes, so the model explores the code itself.
 *
 * Flavours, as the real engines behave:
 * - `redis`: lease expiry in milliseconds, judged when a script runs (renew, poll); one counter for
 *   tokens and epochs; `poll` tells the next expiry.
 * - `etcd`: leases in whole seconds (rounded up), expired by the leader every 500 ms, which deletes
 *   the keys and emits watch events; tokens and epochs are revisions; `poll` knows no expiry.
 */
import type { AttachReply, BeginReply, FenceReply, HolderRef, PollReply, RemoteBackend, RemoteEvent, RenewReply, RevokerRef } from '../../../src/remote/index.js';
import type { RemoteRuntime, Timer } from '../../../src/remote/internal/runtime.js';
import { Random } from '../../../demo/random.js';

export type Flavour = 'redis' | 'etcd';

export class Proc {
  pausedUntil = 0;
  dead = false;
  constructor(readonly name: string) {}
}

interface Entry {
  due: number;
  seq: number;
  proc: Proc;
  fn: () => void;
  cleared: boolean;
}

export interface NetworkFaults {
  /** Probability that a call fails (before or after the engine applied it). */
  failure: number;
  /** Probability that a renewal hangs for good (a connection that is blackholed). */
  hang: number;
  /** Probability that a watch event is lost. */
  eventLoss: number;
}

/** Virtual time with per-process timers; a paused process's timers and messages wait for it. */
export class World {
  now = 0;
  #queue: Entry[] = [];
  #seq = 0;
  readonly engineProc = new Proc('engine');
  readonly random: Random;
  readonly faults: NetworkFaults;

  constructor(seed: number, faults: NetworkFaults) {
    this.random = new Random(seed);
    this.faults = faults;
  }

  at(proc: Proc, ms: number, fn: () => void): Timer {
    const entry: Entry = { due: this.now + Math.max(0, ms), seq: this.#seq++, proc, fn, cleared: false };
    this.#queue.push(entry);
    return { clear: () => void (entry.cleared = true) };
  }

  runtime(proc: Proc, ids: string): RemoteRuntime {
    let n = 0;
    return {
      now: () => this.now,
      timer: (fn, ms) => this.at(proc, ms, fn),
      randomId: () => `${ids}-${++n}`,
      pollMs: 1000,
    };
  }

  /** Fires the next timer (deferring it if its process is paused); false when none is left. */
  step(): boolean {
    this.#queue = this.#queue.filter((e) => !e.cleared && !e.proc.dead);
    if (this.#queue.length === 0) return false;
    this.#queue.sort((a, b) => a.due - b.due || a.seq - b.seq);
    const entry = this.#queue.shift() as Entry;
    this.now = Math.max(this.now, entry.due);
    if (entry.proc.pausedUntil > this.now) {
      // Overdue when the process resumes, in the order they came due: as a stopped process sees it.
      entry.due = entry.proc.pausedUntil;
      this.#queue.push(entry);
      return true;
    }
    entry.fn();
    return true;
  }

  latency(): number {
    return 0.2 + this.random.next() * 3;
  }

  /** A call from `proc` to the engine: applied atomically on arrival, answered after a latency. */
  call<R>(proc: Proc, apply: () => R, kind: 'renew' | 'other' = 'other'): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const roll = this.random.next();
      if (kind === 'renew' && roll < this.faults.hang) return;
      const failBefore = roll < this.faults.hang + this.faults.failure / 2;
      const failAfter = !failBefore && roll < this.faults.hang + this.faults.failure;
      this.at(this.engineProc, this.latency(), () => {
        let result: R;
        try {
          if (failBefore) throw new Error('connection reset before the command ran');
          result = apply();
        } catch (error) {
          this.at(proc, this.latency(), () => reject(error));
          return;
        }
        this.at(proc, this.latency(), () => (failAfter ? reject(new Error('connection reset after the command ran')) : resolve(result)));
      });
    });
  }
}

interface SimHolder {
  token: bigint;
  lease: string;
}

interface SimState {
  state: 'live' | 'revoking' | 'revoked';
  epoch: bigint;
  fence: bigint;
  revoker: string | null;
  /** The claim's lease: an expiry (redis) or a lease id (etcd). */
  claim: { id: string; lease: string } | null;
  holders: Map<string, SimHolder>;
  atBegin: Set<string>;
  detached: Set<string>;
  cutOff: Set<string>;
}

/** The engine, with the state of every resource, for one flavour. */
export class SimEngine {
  readonly world: World;
  readonly flavour: Flavour;
  /** A deliberately broken protocol step, to show the model catches it. */
  readonly mutant: 'none' | 'no-fence';
  #counter = 0n;
  #leases = new Map<string, number>();
  #resources = new Map<string, SimState>();
  #watchers = new Set<{ proc: Proc; name: string; only: 'state' | undefined; onEvent: (e: RemoteEvent) => void }>();
  /** Tokens handed out, and the epochs begun: the model checks tokens < epoch. */
  readonly tokens: bigint[] = [];

  constructor(world: World, flavour: Flavour, mutant: 'none' | 'no-fence' = 'none') {
    this.world = world;
    this.flavour = flavour;
    this.mutant = mutant;
    if (flavour === 'etcd') this.#leaderLoop();
  }

  #leaderLoop(): void {
    this.world.at(this.world.engineProc, 500, () => {
      for (const [id, expiry] of this.#leases) if (expiry <= this.world.now) this.#expire(id);
      this.#leaderLoop();
    });
  }

  #expire(leaseId: string): void {
    this.#leases.delete(leaseId);
    for (const [name, r] of this.#resources) {
      for (const [id, h] of r.holders) {
        if (h.lease !== leaseId) continue;
        r.holders.delete(id);
        this.#revision();
        this.#emit(name, 'holders');
      }
      if (r.claim?.lease === leaseId) {
        r.claim = null;
        this.#emit(name, 'revoker');
      }
    }
  }

  #revision(): bigint {
    return ++this.#counter;
  }

  #grant(ms: number): string {
    const id = `lease-${this.#revision()}`;
    const length = this.flavour === 'etcd' ? Math.max(2, Math.ceil(ms / 1000)) * 1000 : ms;
    this.#leases.set(id, this.world.now + length);
    return id;
  }

  #alive(leaseId: string): boolean {
    const expiry = this.#leases.get(leaseId);
    return expiry !== undefined && expiry > this.world.now;
  }

  #renewLease(leaseId: string, ms: number): boolean {
    if (!this.#alive(leaseId)) return false;
    const length = this.flavour === 'etcd' ? Math.max(2, Math.ceil(ms / 1000)) * 1000 : ms;
    this.#leases.set(leaseId, this.world.now + length);
    return true;
  }

  #resource(name: string): SimState {
    let r = this.#resources.get(name);
    if (r === undefined) {
      r = { state: 'live', epoch: 0n, fence: 0n, revoker: null, claim: null, holders: new Map(), atBegin: new Set(), detached: new Set(), cutOff: new Set() };
      this.#resources.set(name, r);
    }
    return r;
  }

  /** Redis judges expiry when a script runs; etcd's leader already deleted what expired. */
  #prune(name: string, r: SimState): void {
    if (this.flavour !== 'redis') return;
    for (const [id, h] of r.holders) {
      if (this.#alive(h.lease)) continue;
      r.holders.delete(id);
      this.#leases.delete(h.lease);
      if (r.state !== 'live') r.cutOff.add(id);
      this.#emit(name, 'holders');
    }
  }

  #emit(name: string, event: RemoteEvent): void {
    for (const w of this.#watchers) {
      if (w.name !== name || (w.only !== undefined && w.only !== event)) continue;
      if (this.world.random.next() < this.world.faults.eventLoss) continue;
      this.world.at(w.proc, this.world.latency(), () => w.onEvent(event));
    }
  }

  /** The holders attached when the revoke began: the ones it must drain or cut off. */
  holdersAtBegin(name: string): ReadonlySet<string> {
    return this.#resource(name).atBegin;
  }

  fenceOf(name: string): bigint {
    return this.#resource(name).fence;
  }

  /** A backend for one process: every call crosses the simulated network. */
  backend(proc: Proc): RemoteBackend {
    const world = this.world;
    const call = <R>(apply: () => R, kind?: 'renew'): Promise<R> => world.call(proc, apply, kind);
    return {
      engine: this.flavour,
      minLeaseMs: this.flavour === 'etcd' ? 2000 : 1,
      watch: (name, onEvent, only) =>
        call(() => {
          const watcher = { proc, name, only, onEvent };
          this.#watchers.add(watcher);
          return () => void this.#watchers.delete(watcher);
        }),
      attach: (name, holderId, leaseMs) => call(() => this.#attach(name, holderId, leaseMs)),
      renew: (name, holder, leaseMs) => call(() => this.#renew(name, holder, leaseMs), 'renew'),
      detach: (name, holder) => call(() => this.#detach(name, holder)),
      begin: (name, revokerId, leaseMs) => call(() => this.#begin(name, revokerId, leaseMs)),
      renewRevoker: (name, revoker, leaseMs) => call(() => this.#renewRevoker(name, revoker, leaseMs)),
      poll: (name) => call(() => this.#poll(name)),
      raiseFence: (name, revoker, epoch) => call(() => this.#raiseFence(name, revoker, epoch)),
      finish: (name, revoker, epoch) => call(() => this.#finish(name, revoker, epoch)),
      abandon: (name, revoker) => call(() => this.#abandon(name, revoker)),
      fence: (name) => call(() => this.#resource(name).fence),
    };
  }

  #attach(name: string, holderId: string, leaseMs: number): AttachReply {
    const r = this.#resource(name);
    this.#prune(name, r);
    if (r.state !== 'live') return { kind: 'refused', state: r.state };
    if (r.holders.has(holderId)) return { kind: 'conflict' };
    const lease = this.#grant(leaseMs);
    const token = this.#revision();
    r.holders.set(holderId, { token, lease });
    this.tokens.push(token);
    return { kind: 'attached', token, lease };
  }

  #renew(name: string, holder: HolderRef, leaseMs: number): RenewReply {
    const r = this.#resource(name);
    const current = r.holders.get(holder.holderId);
    if (current === undefined || current.token !== holder.token) return { kind: 'lost' };
    if (!this.#renewLease(current.lease, leaseMs)) {
      this.#prune(name, r);
      return { kind: 'lost' };
    }
    return { kind: 'renewed', state: r.state, epoch: r.epoch };
  }

  #detach(name: string, holder: HolderRef): void {
    const r = this.#resource(name);
    const current = r.holders.get(holder.holderId);
    if (current === undefined || current.token !== holder.token) return;
    r.holders.delete(holder.holderId);
    this.#leases.delete(current.lease);
    if (r.state !== 'live') {
      r.detached.add(holder.holderId);
      this.#emit(name, 'holders');
    }
  }

  #claimAlive(r: SimState): boolean {
    return r.claim !== null && this.#alive(r.claim.lease);
  }

  #begin(name: string, revokerId: string, leaseMs: number): BeginReply {
    const r = this.#resource(name);
    if (r.state === 'revoked') return { kind: 'revoked', epoch: r.epoch, fence: r.fence };
    if (r.state === 'live') {
      r.state = 'revoking';
      r.epoch = this.#revision();
      r.atBegin = new Set(r.holders.keys());
      r.claim = { id: revokerId, lease: this.#grant(leaseMs) };
      r.revoker = revokerId;
      this.#emit(name, 'state');
      return { kind: 'begun', epoch: r.epoch, lease: r.claim.lease, tookOver: false };
    }
    if (this.#claimAlive(r)) {
      const claim = r.claim as { id: string; lease: string };
      if (claim.id === revokerId) return { kind: 'begun', epoch: r.epoch, lease: claim.lease, tookOver: false };
      return { kind: 'busy', epoch: r.epoch, retryInMs: Math.max(0, (this.#leases.get(claim.lease) ?? 0) - this.world.now) };
    }
    r.claim = { id: revokerId, lease: this.#grant(leaseMs) };
    r.revoker = revokerId;
    return { kind: 'begun', epoch: r.epoch, lease: r.claim.lease, tookOver: true };
  }

  #renewRevoker(_name: string, revoker: RevokerRef, leaseMs: number): boolean {
    const r = this.#resource(_name);
    if (r.state !== 'revoking' || r.claim?.id !== revoker.revokerId) return false;
    return this.#renewLease(r.claim.lease, leaseMs);
  }

  #poll(name: string): PollReply {
    const r = this.#resource(name);
    this.#prune(name, r);
    if (this.flavour === 'etcd') return { holders: r.holders.size, nextExpiryMs: null };
    let next = Infinity;
    for (const h of r.holders.values()) next = Math.min(next, (this.#leases.get(h.lease) ?? 0) - this.world.now);
    return { holders: r.holders.size, nextExpiryMs: next === Infinity ? null : Math.max(0, next) };
  }

  #raiseFence(name: string, revoker: RevokerRef, epoch: bigint): FenceReply {
    const r = this.#resource(name);
    if (r.state !== 'revoking' || r.epoch !== epoch || !this.#claimAlive(r) || r.claim?.id !== revoker.revokerId) return { kind: 'not-revoker' };
    if (this.mutant !== 'no-fence') r.fence = epoch;
    const cutOff = this.flavour === 'etcd' ? [...r.atBegin].filter((id) => !r.detached.has(id)) : [...r.cutOff];
    return { kind: 'fenced', fence: epoch, cutOff: cutOff.sort() };
  }

  #finish(name: string, revoker: RevokerRef, epoch: bigint): boolean {
    const r = this.#resource(name);
    if (r.state !== 'revoking' || r.epoch !== epoch || r.revoker !== revoker.revokerId) return false;
    if (r.claim !== null && this.#claimAlive(r) && r.claim.id !== revoker.revokerId) return false;
    r.state = 'revoked';
    r.claim = null;
    this.#emit(name, 'state');
    return true;
  }

  #abandon(name: string, revoker: RevokerRef): void {
    const r = this.#resource(name);
    if (r.claim?.id !== revoker.revokerId) return;
    r.claim = null;
    this.#emit(name, 'revoker');
  }
}
