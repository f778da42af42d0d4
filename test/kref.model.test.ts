/**
 * Model-based test of counted references: random sequences of clone, dispose (of live and of
 * already dropped tokens), reads and raw Kref get/put run against the real objects and a model (a
 * set of live tokens, a number). Checked after every step: the count is the number of live tokens,
 * release has run exactly when and only when the last token dropped, and misuse throws without
 * changing anything.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Kref, RefCounted, UseAfterReleaseError, type Ref } from '../src/index.js';
import './support/leaks.js';

import { runs } from './support/model.js';

type RefOp = { op: 'clone' | 'dispose' | 'read'; pick: number };
const refOp: fc.Arbitrary<RefOp> = fc.record({ op: fc.constantFrom('clone', 'clone', 'dispose', 'dispose', 'dispose', 'read'), pick: fc.nat() });

type KrefOp = 'get' | 'getUnlessZero' | 'put';

describe('RefCounted against a model', () => {
  it('releases once, exactly when the last token drops, whatever the order of clones and drops', () => {
    fc.assert(
      fc.property(fc.array(refOp, { maxLength: 60 }), fc.boolean(), (ops, throwing) => {
        const value = { id: 'v' };
        const released: unknown[] = [];
        const failure = new Error('release failed');
        const first = RefCounted.create(value, (v) => {
          released.push(v);
          if (throwing) throw failure;
        });
        const tokens: Ref<typeof value>[] = [first];
        const live = new Set<Ref<typeof value>>([first]);
        for (const { op, pick } of ops) {
          const token = tokens[pick % tokens.length]!;
          const alive = live.has(token);
          switch (op) {
            case 'clone':
              if (alive) {
                const clone = token.clone();
                tokens.push(clone);
                live.add(clone);
              } else {
                assert.throws(() => token.clone(), UseAfterReleaseError);
              }
              break;
            case 'read':
              if (alive) assert.equal(token.value, value);
              else assert.throws(() => token.value, UseAfterReleaseError);
              break;
            case 'dispose': {
              const last = alive && live.size === 1;
              live.delete(token);
              if (last && throwing) assert.throws(() => token.dispose(), (e) => e === failure);
              else token.dispose();
              break;
            }
          }
          assert.equal(released.length, live.size === 0 ? 1 : 0, 'released once, when no token is left');
          for (const t of tokens) {
            assert.equal(t.dropped, !live.has(t));
            assert.equal(t.count, live.size);
          }
        }
        // Whatever is left drops now: the last of them releases.
        for (const t of live) {
          live.delete(t);
          if (live.size === 0 && throwing) assert.throws(() => t.dispose(), (e) => e === failure);
          else t.dispose();
        }
        assert.equal(released.length, 1);
      }),
      { numRuns: runs },
    );
  });
});

describe('Kref against a model', () => {
  it('counts like a number that may not go below zero nor come back from it, and releases in the put that reaches zero', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<KrefOp>('get', 'getUnlessZero', 'put', 'put'), { maxLength: 40 }), (ops) => {
        let model = 1;
        let releases = 0;
        const kref = new Kref(() => void releases++);
        for (const op of ops) {
          switch (op) {
            case 'get':
              if (model === 0) {
                assert.throws(() => kref.get(), UseAfterReleaseError);
              } else {
                kref.get();
                model++;
              }
              break;
            case 'getUnlessZero':
              assert.equal(kref.getUnlessZero(), model > 0);
              if (model > 0) model++;
              break;
            case 'put':
              if (model === 0) assert.throws(() => kref.put(), UseAfterReleaseError);
              else assert.equal(kref.put(), --model === 0);
              break;
          }
          assert.equal(kref.count, model);
          assert.equal(releases, model === 0 ? 1 : 0);
        }
      }),
      { numRuns: runs },
    );
  });
});
