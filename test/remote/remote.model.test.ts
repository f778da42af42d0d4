/**
 * The protocol model: fast-check generates holders (their accesses, which honour the kick or not,
 * their writes to a token-checking resource, their pauses), message failures and losses, and a
 * revoker that may die mid-revoke and be taken over; the real `RemoteHolder` and revoker code runs
 * on a simulated world (virtual time, per-process timers, a lossy network, an engine with Redis's
 * or etcd's rules). Checked on every run, on both engines' rules:
 * - no write carrying a fenced token is accepted after `release`;
 * - at `release`, every holder with an access in flight is listed as cut off (the others detached);
 * - no token is issued at or after the epoch (no attach after the begin);
 * - one `revoked: true` at most, and the surviving revoke terminates.
 * A deliberately broken engine (the fence never raised) must make the model fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RevokedError } from '../../src/index.js';
import { attachHolder, type RemoteHolder } from '../../src/remote/holder.js';
import { runRevoke } from '../../src/remote/revoke.js';
import type { RevokeRemoteResult } from '../../src/remote/index.js';
import '../support/leaks.js';
import { runs } from '../support/model.js';
import { Proc, SimEngine, World, type Flavour } from './support/sim-engine.js';

interface AccessPlan {
  at: number;
  holdMs: number;
  honourKick: boolean;
  writeEveryMs: number;
}
interface HolderPlan {
  attachAt: number;
  accesses: AccessPlan[];
  pause: { at: number; ms: number } | null;
  detachAt: number | null;
}
interface Plan {
  seed: number;
  holders: HolderPlan[];
  revokeAt: number;
  killRevokerAfter: number | null;
  faults: { failure: number; hang: number; eventLoss: number };
}

const plan = (leaseMs: number): fc.Arbitrary<Plan> =>
  fc.record({
    seed: fc.integer(),
    holders: fc.array(
      fc.record({
        attachAt: fc.integer({ min: 0, max: 1500 }),
        accesses: fc.array(
          fc.record({ at: fc.integer({ min: 0, max: 3000 }), holdMs: fc.integer({ min: 1, max: 4 * leaseMs }), honourKick: fc.boolean(), writeEveryMs: fc.integer({ min: 20, max: 400 }) }),
          { maxLength: 3 },
        ),
        pause: fc.option(fc.record({ at: fc.integer({ min: 0, max: 3000 }), ms: fc.integer({ min: 1, max: 3 * leaseMs }) }), { freq: 2 }),
        detachAt: fc.option(fc.integer({ min: 0, max: 4000 }), { freq: 4 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    revokeAt: fc.integer({ min: 0, max: 2500 }),
    killRevokerAfter: fc.option(fc.integer({ min: 0, max: 3000 }), { freq: 3 }),
    faults: fc.record({ failure: fc.constantFrom(0, 0.05, 0.2), hang: fc.constantFrom(0, 0, 0.1), eventLoss: fc.constantFrom(0, 0.3, 1) }),
  });

/** Runs one plan to the end; resolves with what broke, or an empty list. */
async function run(flavour: Flavour, leaseMs: number, p: Plan, mutant: 'none' | 'no-fence' = 'none'): Promise<string[]> {
  const broken: string[] = [];
  const world = new World(p.seed, p.faults);
  const engine = new SimEngine(world, flavour, mutant);
  const name = 'tenant';
  let released = false;
  let releases = 0;
  const holders: { id: string; holder?: RemoteHolder<object>; inside: number }[] = [];
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  // The token-checking resource: checks a write against the engine's fence when it arrives.
  const write = (proc: Proc, token: bigint): void => {
    world
      .call(proc, () => {
        const accepted = token >= engine.fenceOf(name);
        if (accepted && released) broken.push(`a write with token ${token} was accepted after the release (fence ${engine.fenceOf(name)})`);
        return accepted;
      })
      .catch(() => {});
  };

  p.holders.forEach((h, i) => {
    const id = `h${i}`;
    const proc = new Proc(id);
    const slot: { id: string; holder?: RemoteHolder<object>; inside: number } = { id, inside: 0 };
    holders.push(slot);
    const runtime = world.runtime(proc, id);
    if (h.pause !== null) {
      const pause = h.pause;
      world.at(world.engineProc, pause.at, () => void (proc.pausedUntil = world.now + pause.ms));
    }
    world.at(proc, h.attachAt, () => {
      attachHolder(engine.backend(proc), name, {}, { leaseMs, holderId: id }, runtime).then(
        (holder) => {
          slot.holder = holder;
          for (const a of h.accesses) {
            world.at(proc, a.at, () => {
              if (holder.state !== 'live') return; // its handle refuses: nothing to use
              void holder.handle().tryWith(
                (_resource, signal) =>
                  new Promise<void>((resolve) => {
                    slot.inside++;
                    const until = world.now + a.holdMs;
                    const tick = (): void => {
                      if (world.now >= until || (a.honourKick && signal.aborted)) {
                        slot.inside--;
                        return resolve();
                      }
                      write(proc, holder.token);
                      world.at(proc, a.writeEveryMs, tick);
                    };
                    tick();
                  }),
              );
            });
          }
          if (h.detachAt !== null) world.at(proc, h.detachAt, () => void holder.detach());
        },
        (error: unknown) => {
          if (!(error instanceof RevokedError) && !/connection reset/.test(String(error))) broken.push(`attach failed: ${String(error)}`);
        },
      );
    });
  });

  const results: RevokeRemoteResult[] = [];
  const release = (info: { cutOff: readonly string[] }): void => {
    releases++;
    released = true;
    // A holder of the revoke not cut off must have detached, which it does only once its accesses
    // have ended. (One whose lease had expired before the begin was no holder of this revoke.)
    for (const slot of holders) {
      if (slot.inside > 0 && engine.holdersAtBegin(name).has(slot.id) && !info.cutOff.includes(slot.id)) broken.push(`release ran while ${slot.id} had ${slot.inside} accesses in flight and was not cut off`);
    }
  };
  let finishedAt: number | undefined;
  const startRevoker = (label: string, at: number, killAfter: number | null): void => {
    const proc = new Proc(label);
    world.at(world.engineProc, at, () => {
      void runRevoke(engine.backend(proc), name, { revokerLeaseMs: Math.max(leaseMs, 2000), release }, world.runtime(proc, label)).then(
        (result) => {
          results.push(result);
          if (killAfter === null) finishedAt = world.now;
        },
        (error: unknown) => void broken.push(`${label} rejected: ${String(error)}`),
      );
    });
    if (killAfter !== null) {
      world.at(world.engineProc, at + killAfter, () => void (proc.dead = true));
      startRevoker(`${label}'`, at + killAfter + 1, null);
    }
  };
  startRevoker('revoker', p.revokeAt, p.killRevokerAfter);

  // Run until the surviving revoke has resolved, then on past every pause and a few leases more, so
  // that a paused holder wakes up and its late writes reach the resource.
  const pausesEnd = Math.max(0, ...p.holders.map((h) => (h.pause === null ? 0 : h.pause.at + h.pause.ms)));
  const limit = p.revokeAt + 120_000;
  for (let steps = 0; steps < 500_000; steps++) {
    await settle();
    if (finishedAt !== undefined && world.now > Math.max(finishedAt, pausesEnd) + 3 * leaseMs) break;
    if (!world.step() || world.now > limit) break;
  }
  if (finishedAt === undefined) broken.push(`the revoke did not terminate (virtual time ${world.now.toFixed(0)} ms)`);
  if (results.filter((r) => r.revoked).length > 1) broken.push('two revokes resolved revoked: true');
  const epoch = results[0]?.epoch;
  if (epoch !== undefined) for (const token of engine.tokens) if (token >= epoch) broken.push(`token ${token} was issued at or after the epoch ${epoch}`);
  if (releases === 0 && results.some((r) => r.revoked)) broken.push('revoked without a release');
  for (const slot of holders) {
    const state = slot.holder?.state;
    if (state === 'live' || state === 'revoking') broken.push(`${slot.id} still ${state} long after the revoke`);
  }
  return broken;
}

for (const [flavour, leaseMs] of [['redis', 1000], ['etcd', 2000]] as const) {
  describe(`the remote protocol on ${flavour}'s rules, under pauses, failures and lost messages`, () => {
    it('accepts no fenced write after release, releases only once every holder drained or was cut off, and terminates', async () => {
      await fc.assert(
        fc.asyncProperty(plan(leaseMs), async (p) => {
          const broken = await run(flavour, leaseMs, p);
          assert.deepEqual(broken, []);
        }),
        { numRuns: runs },
      );
    });

    it('fails when the engine never raises the fence: the model can tell', async () => {
      const outcome = await fc.check(
        fc.asyncProperty(plan(leaseMs), async (p) => {
          assert.deepEqual(await run(flavour, leaseMs, p, 'no-fence'), []);
        }),
        { numRuns: 500, seed: 42 },
      );
      assert.equal(outcome.failed, true, 'the broken engine was caught');
      assert.match(String(outcome.errorInstance), /accepted after the release/, 'by a stale write after the release');
    });
  });
}
