/**
 * Model-based test of ResourceScope's devres surface. Random programs (add, defer, remove, release,
 * find, open/close/remove/release group, dispose, and more after the dispose) run against the real
 * scope and against a plain model of the kernel's devres list: an array of resources and group
 * markers, with `find_group` and `remove_nodes` written out as the kernel's devres.c has them. The
 * model predicts, for every call, what it returns or throws and which values it releases in which
 * order; the test checks exactly those values are released, in that order, and the state of every
 * entry and the scope's size after every step.
 *
 * A second property issues the calls without awaiting them and lets fast-check's scheduler decide
 * when each asynchronous release finishes, to check that each batch (one release, one group, the
 * disposal) runs strictly one release after another, that the disposal waits for batches already
 * in flight, and that nothing is released twice or lost.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GroupNotFoundError, ResourceScope, ScopeDisposedError, SuppressedError, type ScopeEntry } from '../src/index.js';
import './support/leaks.js';

import { runs } from './support/model.js';

type Mode = 'sync' | 'async' | 'throw' | 'reject';
type GroupRef = 'A' | 'B' | 'C' | 'auto' | 'latest';
type Op =
  | { op: 'add'; mode: Mode; key: 'k1' | 'k2' | undefined }
  | { op: 'defer' | 'adopt'; mode: Mode }
  | { op: 'remove' | 'release'; pick: number }
  | { op: 'find'; key: 'k1' | 'k2' }
  | { op: 'openGroup'; id: 'A' | 'B' | 'C' | 'auto' }
  | { op: 'closeGroup' | 'removeGroup' | 'releaseGroup'; id: GroupRef; pick: number }
  | { op: 'dispose' };

const mode = fc.constantFrom<Mode>('sync', 'sync', 'async', 'async', 'throw', 'reject');
/** `churn` weighs removals up, so that holes pile up in the middle of the list and it compacts. */
const opsArb = (churn: number): fc.Arbitrary<Op> => fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), mode, key: fc.constantFrom('k1' as const, 'k2' as const, undefined) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('defer' as const, 'adopt' as const), mode }) },
  { weight: 2 * churn, arbitrary: fc.record({ op: fc.constantFrom('remove' as const, 'release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('find' as const), key: fc.constantFrom('k1' as const, 'k2' as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('openGroup' as const), id: fc.constantFrom('A' as const, 'B' as const, 'C' as const, 'auto' as const) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constantFrom('closeGroup' as const, 'removeGroup' as const, 'releaseGroup' as const),
      id: fc.constantFrom<GroupRef>('A', 'B', 'auto', 'latest', 'latest'),
      pick: fc.nat(),
    }),
  },
);
const opArb = opsArb(1);
/** A program: steps on the open scope, the disposal, then a few steps on the disposed scope. */
const programArb = (maxLength: number): fc.Arbitrary<Op[]> =>
  fc
    .tuple(fc.array(opArb, { maxLength }), fc.array(opArb, { maxLength: 4 }))
    .map(([open, after]) => (after.length === 0 ? open : [...open, { op: 'dispose' as const }, ...after]));

// ---- The model: the kernel's devres list, written as plainly as possible. ----

interface GroupModel {
  readonly id: unknown;
  closed: boolean;
}
type Node = { t: 'res'; label: string; key: string | undefined; mode: Mode } | { t: 'open' | 'close'; g: GroupModel };

class Model {
  list: Node[] = [];
  disposed = false;
  /** label -> 'active' | 'removed' | 'released' for every entry made by add(). */
  entries = new Map<string, 'active' | 'removed' | 'released'>();

  /** find_group: the newest group with `id`, or with `id` undefined the newest open one. */
  findGroup(id: unknown): GroupModel | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const node = this.list[i]!;
      if (node.t !== 'open') continue;
      if (id === undefined ? !node.g.closed : node.g.id === id) return node.g;
    }
    return undefined;
  }

  /** remove_nodes for a group: returns the released labels in release order (newest first). */
  takeGroup(g: GroupModel): string[] {
    const first = this.list.findIndex((n) => n.t === 'open' && n.g === g);
    const closeAt = this.list.findIndex((n) => n.t === 'close' && n.g === g);
    const end = closeAt < 0 ? this.list.length : closeAt + 1;
    const range = this.list.slice(first, end);
    const released = range.filter((n) => n.t === 'res') as { label: string }[];
    // A group is wholly inside iff its opening marker is in range and, if it is closed, its closing one too.
    const removedGroups = new Set<GroupModel>();
    for (const node of range) {
      if (node.t !== 'open') continue;
      const closed = this.list.some((n) => n.t === 'close' && n.g === node.g);
      if (!closed || range.some((n) => n.t === 'close' && n.g === node.g)) removedGroups.add(node.g);
    }
    this.list = this.list.filter((n, i) => !((i >= first && i < end && n.t === 'res') || (n.t !== 'res' && removedGroups.has(n.g))));
    return this.#released(released.map((n) => n.label).reverse());
  }

  takeAll(): string[] {
    const labels = this.list.filter((n) => n.t === 'res').map((n) => (n as { label: string }).label);
    this.list = [];
    this.disposed = true;
    return this.#released(labels.reverse());
  }

  takeEntry(label: string, as: 'removed' | 'released'): boolean {
    const index = this.list.findIndex((n) => n.t === 'res' && n.label === label);
    if (index < 0) return false;
    this.list.splice(index, 1);
    this.entries.set(label, as);
    return true;
  }

  get size(): number {
    return this.list.filter((n) => n.t === 'res').length;
  }

  #released(labels: string[]): string[] {
    for (const label of labels) if (this.entries.has(label)) this.entries.set(label, 'released');
    return labels;
  }
}

// ---- The harness: one program, against the real scope and the model side by side. ----

interface Events {
  /** start:L / end:L in the order they happened; 'disposed' when disposeAsync settled. */
  log: string[];
  /** Predicted release order of each batch, in the order the batches were started. */
  batches: { kind: string; labels: string[] }[];
}

/** Leaves of a SuppressedError chain, oldest failure first. */
function failures(error: unknown): string[] {
  if (error instanceof SuppressedError) return [...failures(error.suppressed), ...failures(error.error)];
  return [(error as Error).message];
}

async function runProgram(ops: Op[], settle: (label: string) => Promise<void>, awaitEach: boolean, checkEachStep = true): Promise<Events> {
  const scope = new ResourceScope({ name: 'model' });
  const model = new Model();
  const events: Events = { log: [], batches: [] };
  const handles: { label: string; entry: ScopeEntry<string> }[] = [];
  const autoIds: symbol[] = [];
  const modes = new Map<string, Mode>();
  const pending: Promise<void>[] = [];
  let counter = 0;

  const releaseFn = (m: Mode) => (label: string) => {
    events.log.push(`start:${label}`);
    if (m === 'sync' || m === 'throw') {
      events.log.push(`end:${label}`);
      if (m === 'throw') throw new Error(label);
      return undefined;
    }
    return settle(label).then(() => {
      events.log.push(`end:${label}`);
      if (m === 'reject') throw new Error(label);
    });
  };

  /** Checks a batch's outcome against the model's prediction: resolves, or rejects with exactly the failures. */
  const expectBatch = async (promise: Promise<unknown>, labels: string[], value: unknown): Promise<void> => {
    const failing = labels.filter((l) => modes.get(l) === 'throw' || modes.get(l) === 'reject');
    try {
      const result = await promise;
      assert.equal(failing.length, 0, `expected a rejection with ${failing.join(', ')}`);
      assert.equal(result, value);
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      assert.deepEqual(failures(error), failing);
    }
  };
  const track = (promise: Promise<void>): void => {
    if (awaitEach) pending.push(promise);
    else pending.push(promise);
  };

  const groupId = (ref: GroupRef | 'auto', pick: number): unknown =>
    ref === 'latest' ? undefined : ref === 'auto' ? (autoIds.length === 0 ? Symbol('never opened') : autoIds[pick % autoIds.length]) : ref;

  for (const step of ops) {
    switch (step.op) {
      case 'add':
      case 'adopt':
      case 'defer': {
        const label = `r${counter++}`;
        modes.set(label, step.mode);
        const fn = releaseFn(step.mode);
        if (model.disposed) {
          // add-or-reset: released at once, then ScopeDisposedError; adopt, defer: the standard's plain ReferenceError, nothing called.
          let thrown: unknown;
          try {
            if (step.op === 'add') scope.add(label, fn);
            else if (step.op === 'adopt') scope.adopt(label, fn);
            else scope.defer(() => fn(label));
          } catch (error) {
            thrown = error;
          }
          if (step.op !== 'add') {
            assert.ok(thrown instanceof ReferenceError && thrown.constructor === ReferenceError && (thrown as { code?: unknown }).code === 'ERR_SCOPE_DISPOSED');
          } else {
            assert.ok(thrown instanceof ScopeDisposedError);
            events.batches.push({ kind: 'add after dispose', labels: [label] });
            track(expectBatch(thrown.released, [label], undefined));
          }
          break;
        }
        if (step.op === 'add') {
          const entry = scope.add(label, fn, step.key === undefined ? undefined : { key: step.key });
          handles.push({ label, entry });
          model.entries.set(label, 'active');
        } else if (step.op === 'adopt') {
          assert.equal(scope.adopt(label, fn), label);
        } else {
          scope.defer(() => fn(label));
        }
        model.list.push({ t: 'res', label, key: step.op === 'add' ? step.key : undefined, mode: step.mode });
        break;
      }
      case 'remove':
      case 'release': {
        if (handles.length === 0) break;
        const { label, entry } = handles[step.pick % handles.length]!;
        const expected = model.takeEntry(label, step.op === 'remove' ? 'removed' : 'released');
        if (step.op === 'remove') {
          assert.equal(scope.remove(entry), expected);
        } else {
          const promise = scope.release(entry);
          if (expected) events.batches.push({ kind: 'release', labels: [label] });
          track(expectBatch(promise, expected ? [label] : [], expected));
        }
        break;
      }
      case 'find': {
        const found = [...model.list].reverse().find((n) => n.t === 'res' && n.key === step.key);
        assert.equal(scope.find(step.key), found === undefined ? undefined : (found as { label: string }).label);
        break;
      }
      case 'openGroup': {
        if (model.disposed) {
          assert.throws(() => scope.openGroup(), ScopeDisposedError);
          break;
        }
        const id = step.id === 'auto' ? scope.openGroup() : scope.openGroup(step.id);
        if (step.id === 'auto') autoIds.push(id as symbol);
        else assert.equal(id, step.id);
        model.list.push({ t: 'open', g: { id, closed: false } });
        break;
      }
      case 'closeGroup': {
        const id = groupId(step.id, step.pick);
        if (model.disposed) {
          assert.throws(() => scope.closeGroup(id), ScopeDisposedError);
          break;
        }
        const g = model.findGroup(id);
        if (g === undefined || g.closed) {
          assert.throws(() => scope.closeGroup(id), GroupNotFoundError);
          break;
        }
        scope.closeGroup(id);
        g.closed = true;
        model.list.push({ t: 'close', g });
        break;
      }
      case 'removeGroup': {
        const id = groupId(step.id, step.pick);
        const g = model.disposed ? undefined : model.findGroup(id);
        if (!model.disposed && g === undefined) {
          assert.throws(() => scope.removeGroup(id), GroupNotFoundError);
          break;
        }
        scope.removeGroup(id);
        model.list = model.list.filter((n) => n.t === 'res' || n.g !== g);
        break;
      }
      case 'releaseGroup': {
        const id = groupId(step.id, step.pick);
        const promise = scope.releaseGroup(id);
        if (model.disposed) {
          track(expectBatch(promise, [], 0));
          break;
        }
        const g = model.findGroup(id);
        if (g === undefined) {
          track(assert.rejects(promise, GroupNotFoundError));
          break;
        }
        const labels = model.takeGroup(g);
        events.batches.push({ kind: 'group', labels });
        track(expectBatch(promise, labels, labels.length));
        break;
      }
      case 'dispose': {
        const wasDisposed = model.disposed;
        const labels = model.takeAll();
        const promise = scope.disposeAsync();
        if (!wasDisposed) events.batches.push({ kind: 'dispose', labels });
        const checked = expectBatch(promise, wasDisposed ? [] : labels, undefined);
        if (!wasDisposed) void promise.then(() => events.log.push('disposed'), () => events.log.push('disposed'));
        track(checked);
        break;
      }
    }
    if (awaitEach) await Promise.all(pending.splice(0));
    // After every step: the size and every entry's state are what the model says.
    assert.equal(scope.size, model.size);
    if (checkEachStep) for (const { label, entry } of handles) assert.equal(entry.state, model.entries.get(label), `state of ${label}`);
  }
  if (!model.disposed) {
    const labels = model.takeAll();
    events.batches.push({ kind: 'dispose', labels });
    const promise = scope.disposeAsync();
    void promise.then(() => events.log.push('disposed'), () => events.log.push('disposed'));
    track(expectBatch(promise, labels, undefined));
  }
  await Promise.all(pending);
  for (const { label, entry } of handles) assert.equal(entry.state, model.entries.get(label), `final state of ${label}`);
  return events;
}

/** What must hold of the events, whatever the interleaving. */
function checkEvents(events: Events, sequential: boolean): void {
  const released = events.batches.flatMap((b) => b.labels);
  const starts = events.log.filter((e) => e.startsWith('start:')).map((e) => e.slice(6));
  // Exactly the predicted values are released, each once.
  assert.deepEqual([...starts].sort(), [...released].sort());
  assert.equal(new Set(starts).size, starts.length, 'nothing is released twice');
  if (sequential) assert.deepEqual(starts, released, 'in the predicted order');
  const at = (event: string): number => events.log.indexOf(event);
  for (const [index, batch] of events.batches.entries()) {
    // Within a batch: newest first, each release starts after the previous one ended.
    for (let i = 1; i < batch.labels.length; i++) {
      assert.ok(at(`end:${batch.labels[i - 1]}`) < at(`start:${batch.labels[i]}`), `${batch.kind}: ${batch.labels[i]} started before ${batch.labels[i - 1]} ended`);
    }
    if (batch.kind !== 'dispose') continue;
    // The disposal starts after every batch started before it has ended, and resolves after its own.
    const first = batch.labels[0];
    for (const earlier of events.batches.slice(0, index).flatMap((b) => b.labels)) {
      if (first !== undefined) assert.ok(at(`end:${earlier}`) < at(`start:${first}`), `dispose started before ${earlier} ended`);
      assert.ok(at(`end:${earlier}`) < at('disposed'), `dispose resolved before ${earlier} ended`);
    }
    for (const label of batch.labels) assert.ok(at(`end:${label}`) < at('disposed'));
  }
}

describe('ResourceScope against a model of the devres list', () => {
  it('releases exactly the predicted values in the predicted order, and every call answers as the kernel would', async () => {
    await fc.assert(
      fc.asyncProperty(programArb(40), async (ops) => {
        const events = await runProgram(ops, () => Promise.resolve(), true);
        checkEvents(events, true);
      }),
      { numRuns: runs },
    );
  });

  it('stays exact when removals pile holes up in the middle of the list (it compacts, moving entries and group markers)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opsArb(4), { minLength: 40, maxLength: 120 }), async (ops) => {
        const events = await runProgram(ops, () => Promise.resolve(), true);
        checkEvents(events, true);
      }),
      { numRuns: runs },
    );
  });

  it('stays exact on lists longer than a storage chunk (1,024 slots), with compaction and groups across chunk boundaries', async () => {
    const filler = fc.array(
      fc.record({ op: fc.constantFrom('add' as const, 'adopt' as const, 'defer' as const), mode: fc.constant<Mode>('sync'), key: fc.constant(undefined) }),
      { minLength: 700, maxLength: 1400 },
    );
    await fc.assert(
      fc.asyncProperty(filler, fc.array(opArb, { maxLength: 40 }), filler, fc.array(opArb, { maxLength: 40 }), async (a, b, c, d) => {
        const events = await runProgram([...a, ...b, ...c, ...d] as Op[], () => Promise.resolve(), true, false);
        checkEvents(events, true);
      }),
      // No shrinking: a counterexample of thousands of steps shrinks for minutes and reads no better.
      { numRuns: Math.max(5, Math.round(runs / 10)), endOnFailure: true },
    );
  });

  it('keeps each batch strictly sequential and the disposal last, whenever asynchronous releases finish', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), programArb(30), async (s, ops) => {
        const program = runProgram(ops, (label) => s.schedule(Promise.resolve(), label), false);
        let done = false;
        void program.then(
          () => (done = true),
          () => (done = true),
        );
        while (!done) {
          await s.waitAll();
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        checkEvents(await program, false);
      }),
      { numRuns: runs },
    );
  });
});
