/**
 * Model-based test of the revocable core: fast-check's scheduler picks the interleaving of
 * consumers (taking accesses through handles, awaiting inside them, releasing, closing handles) and
 * revokers, and every invariant of the module is checked after every step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Revocable, RevokedError, type Access } from '../src/index.js';
import './support/leaks.js';
import { checkEveryStep, checkedScheduler as scheduler, runs } from './support/model.js';


type Form = 'tryAccess' | 'access' | 'tryWith' | 'with' | 'proxy';
interface ConsumerPlan {
  /** Accesses this consumer takes one after another; each awaits `awaits` times inside. */
  uses: { form: Form; awaits: number; concurrent: boolean }[];
  closeHandleAfter: number;
}

const consumerPlan: fc.Arbitrary<ConsumerPlan> = fc.record({
  uses: fc.array(
    fc.record({
      form: fc.constantFrom<Form>('tryAccess', 'access', 'tryWith', 'with', 'proxy'),
      awaits: fc.nat({ max: 3 }),
      concurrent: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  closeHandleAfter: fc.nat({ max: 5 }),
});

class Resource {
  released = false;
  uses = 0;
  /** What a proxied method call does; set by each run to reach its model. */
  constructor(readonly work: (label: string, awaits: number) => Promise<void>) {}
  use(): number {
    if (this.released) throw new Error('use after release');
    return ++this.uses;
  }
}



describe('Revocable under every interleaving the scheduler finds', () => {
  it('grants no access after revoke starts, never uses a released resource, releases once after the last access, kicks every access and resolves only after the drain', async () => {
    await fc.assert(
      fc.asyncProperty(
        scheduler,
        fc.array(consumerPlan, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (s, plans, revokers, asyncRelease) => {
          const resource: Resource = new Resource(async function (this: unknown, label, awaits) {
            // A proxied async method: runs with `this` = the resource, holds an access across its awaits.
            assert.equal(this, resource);
            granted(null);
            try {
              await inside(label, awaits);
            } finally {
              inFlight--;
            }
          });
          let releases = 0;
          let inFlight = 0; // the model's count of accesses held
          const held = new Set<{ signal: AbortSignal }>();
          let revokeStarted = false;
          let revokeResolved = false;
          const provider = new Revocable(resource, {
            name: 'model',
            release: async (r) => {
              assert.equal(inFlight, 0, 'release runs only after the last access ends');
              assert.equal(revokeStarted, true);
              releases++;
              if (asyncRelease) await s.schedule(Promise.resolve(), 'async release');
              r.released = true;
            },
          });

          const check = (): void => {
            assert.ok(releases <= 1, 'release runs at most once');
            if (provider.state !== 'revoked') assert.equal(provider.accesses, inFlight, 'the counter matches the model');
            if (revokeStarted) for (const h of held) assert.equal(h.signal.aborted, true, 'every in-flight access was kicked');
            if (revokeResolved) {
              assert.equal(inFlight, 0, 'revoke resolved only after the drain');
              assert.equal(resource.released, true, 'and after release finished');
            }
          };

          function granted(signal: AbortSignal): { signal: AbortSignal };
          function granted(signal: null): null;
          function granted(signal: AbortSignal | null): { signal: AbortSignal } | null {
            assert.equal(revokeStarted, false, 'no access is granted once revoke has started');
            inFlight++;
            if (signal === null) return null; // proxied calls carry no signal: only the count is modelled
            const token = { signal };
            held.add(token);
            return token;
          }
          const ended = (token: { signal: AbortSignal }): void => {
            held.delete(token);
            inFlight--;
          };
          async function inside (label: string, awaits: number): Promise<void> {
            for (let i = 0; i < awaits; i++) {
              resource.use();
              await s.schedule(Promise.resolve(), `${label} await ${i}`);
            }
            resource.use();
          }

          const consumer = async (plan: ConsumerPlan, c: number): Promise<void> => {
            await s.schedule(Promise.resolve(), `consumer ${c} starts`);
            let handle;
            try {
              handle = provider.handle();
            } catch (error) {
              assert.ok(error instanceof RevokedError && revokeStarted, 'handle() fails only once revoked');
              return;
            }
            const running: Promise<unknown>[] = [];
            for (const [u, use] of plan.uses.entries()) {
              if (u === plan.closeHandleAfter) handle.close();
              const label = `consumer ${c} use ${u} (${use.form})`;
              const run = async (): Promise<void> => {
                switch (use.form) {
                  case 'tryAccess':
                  case 'access': {
                    let access: Access<Resource> | null;
                    try {
                      access = use.form === 'tryAccess' ? handle.tryAccess() : handle.access();
                    } catch (error) {
                      assert.ok(error instanceof RevokedError);
                      access = null;
                    }
                    if (access === null) {
                      assert.ok(revokeStarted || handle.closed, 'refused only when revoked or closed');
                      return;
                    }
                    const token = granted(access.signal);
                    try {
                      await inside(label, use.awaits);
                    } finally {
                      ended(token);
                      access.release();
                      access.release();
                    }
                    return;
                  }
                  case 'tryWith':
                  case 'with': {
                    let token: { signal: AbortSignal } | undefined;
                    const body = async (r: Resource, signal: AbortSignal): Promise<void> => {
                      token = granted(signal);
                      assert.equal(r, resource);
                      try {
                        await inside(label, use.awaits);
                      } finally {
                        ended(token);
                      }
                    };
                    try {
                      const result = use.form === 'tryWith' ? handle.tryWith(body) : handle.with(body);
                      if (result === undefined) assert.ok(revokeStarted || handle.closed);
                      await result;
                    } catch (error) {
                      assert.ok(error instanceof RevokedError && (revokeStarted || handle.closed));
                    }
                    return;
                  }
                  case 'proxy': {
                    let proxy: Resource;
                    try {
                      proxy = handle.proxy();
                    } catch (error) {
                      assert.ok(error instanceof RevokedError && (revokeStarted || handle.closed));
                      return;
                    }
                    try {
                      await proxy.work(label, use.awaits);
                    } catch (error) {
                      assert.ok(error instanceof RevokedError && (revokeStarted || handle.closed));
                    }
                    return;
                  }
                }
              };
              if (use.concurrent) running.push(run());
              else await run();
            }
            await Promise.all(running);
          };

          const outcomes: boolean[] = [];
          const revoker = async (r: number): Promise<void> => {
            await s.schedule(Promise.resolve(), `revoker ${r}`);
            const before = [...held];
            const first = !revokeStarted;
            revokeStarted = true;
            const revoking = provider.revoke();
            for (const h of before) assert.equal(h.signal.aborted, true, 'kicked at the first synchronous step');
            assert.equal(provider.tryAccess(), null);
            const result = await revoking;
            assert.equal(result, first, 'true exactly for the call that revoked');
            revokeResolved = true;
            outcomes.push(result);
            check();
          };

          checkEveryStep(check);
          const all = Promise.all([...plans.map(consumer), ...Array.from({ length: revokers }, (_, r) => revoker(r))]);
          await s.waitFor(all);
          check();
          assert.equal(releases, 1);
          assert.deepEqual(outcomes.filter(Boolean), [true]);
          assert.equal(outcomes.length, revokers);
          assert.equal(inFlight, 0);
          assert.equal(provider.state, 'revoked');
        },
      ),
      { numRuns: runs },
    );
  });
});
