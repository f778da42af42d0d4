import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { Kref, Ref, RefCounted, UseAfterReleaseError } from '../src/index.js';
import './support/leaks.js';

const isUseAfterRelease = (pattern: RegExp) => (error: unknown) =>
  error instanceof UseAfterReleaseError && error instanceof ReferenceError && error.code === 'ERR_USE_AFTER_RELEASE' && pattern.test(error.message);

describe('Kref', () => {
  it('starts at 1 and releases in the put that takes it to 0, which alone returns true', () => {
    const release = mock.fn();
    const kref = new Kref(release);
    assert.equal(kref.count, 1);
    kref.get();
    kref.get();
    assert.equal(kref.count, 3);
    assert.equal(kref.put(), false);
    assert.equal(kref.put(), false);
    assert.equal(release.mock.callCount(), 0);
    assert.equal(kref.put(), true);
    assert.equal(kref.count, 0);
    assert.equal(release.mock.callCount(), 1);
    assert.deepEqual(release.mock.calls[0]?.arguments, [kref]);
  });

  it('getUnlessZero takes a reference while the count is above zero, and refuses at zero', () => {
    const kref = new Kref(() => {});
    assert.equal(kref.getUnlessZero(), true);
    assert.equal(kref.count, 2);
    kref.put();
    kref.put();
    assert.equal(kref.getUnlessZero(), false);
    assert.equal(kref.count, 0);
  });

  it('throws UseAfterReleaseError for get and put at zero, and changes nothing', () => {
    const release = mock.fn();
    const kref = new Kref(release, { name: 'gpio0' });
    kref.put();
    assert.throws(() => kref.get(), isUseAfterRelease(/Kref "gpio0" was already released: get\(\) on a count of 0/));
    assert.throws(() => kref.put(), isUseAfterRelease(/put\(\) on a count of 0/));
    assert.equal(kref.count, 0);
    assert.equal(release.mock.callCount(), 1, 'release never runs twice');
  });

  it('leaves the count at zero when release throws, and the error comes out of the put that released', () => {
    const failure = new Error('teardown failed');
    const release = mock.fn(() => {
      throw failure;
    });
    const kref = new Kref(release);
    kref.get();
    assert.equal(kref.put(), false);
    assert.throws(() => kref.put(), (e) => e === failure);
    assert.equal(kref.count, 0);
    assert.equal(kref.getUnlessZero(), false);
    assert.throws(() => kref.put(), UseAfterReleaseError);
    assert.equal(release.mock.callCount(), 1);
  });

  it('refuses, inside release, to take the object back', () => {
    let inside: unknown;
    const kref: Kref = new Kref(() => {
      inside = kref.getUnlessZero();
      assert.throws(() => kref.get(), UseAfterReleaseError);
    });
    kref.put();
    assert.equal(inside, false);
  });

  it('validates its arguments', () => {
    assert.throws(() => new Kref(undefined as never), /Expected `release` to be a function, got `undefined` \(undefined\)/);
    assert.throws(() => new Kref(() => {}, 'x' as never), /Expected `options` to be an object or undefined/);
    assert.throws(() => new Kref(() => {}, { name: 1 } as never), /Expected `options.name` to be a string or undefined/);
  });
});

describe('RefCounted and Ref', () => {
  it('releases the value once, when the last reference is dropped', () => {
    const release = mock.fn();
    const value = { id: 1 };
    const first = RefCounted.create(value, release);
    const second = first.clone();
    const third = second.clone();
    assert.equal(first.count, 3);
    assert.equal(third.value, value);
    first.dispose();
    third.dispose();
    assert.equal(release.mock.callCount(), 0);
    assert.equal(second.value, value);
    second.dispose();
    assert.deepEqual(release.mock.calls.map((c) => c.arguments), [[value]]);
  });

  it('drops each token once, however often dispose is called', () => {
    const release = mock.fn();
    const a = RefCounted.create('v', release);
    const b = a.clone();
    a.dispose();
    a.dispose();
    a[Symbol.dispose]();
    assert.equal(b.count, 1);
    assert.equal(release.mock.callCount(), 0);
    b.dispose();
    assert.equal(release.mock.callCount(), 1);
  });

  it('throws UseAfterReleaseError for value and clone of a dropped token, even while others keep the value alive', () => {
    const a = RefCounted.create('v', () => {}, { name: 'dev' });
    const b = a.clone();
    a.dispose();
    assert.equal(a.dropped, true);
    assert.equal(b.dropped, false);
    assert.throws(() => a.value, isUseAfterRelease(/Ref "dev" was dropped: its value may be gone/));
    assert.throws(() => a.clone(), isUseAfterRelease(/clone\(\) needs a live reference/));
    assert.equal(b.count, 1, 'a failed clone takes nothing');
    b.dispose();
  });

  it('works with using: the block drops its reference', () => {
    const log: string[] = [];
    const ref = RefCounted.create('device', (v) => void log.push(`release ${v}`));
    {
      using extra = ref.clone();
      assert.equal(extra.value, 'device');
    }
    assert.equal(ref.count, 1);
    ref.dispose();
    assert.deepEqual(log, ['release device']);
  });

  it('lets the error of a throwing release out of the dispose that dropped the last reference; the token is dropped regardless', () => {
    const failure = new Error('release failed');
    const a = RefCounted.create(1, () => {
      throw failure;
    });
    const b = a.clone();
    b.dispose();
    assert.throws(() => a.dispose(), (e) => e === failure);
    assert.equal(a.dropped, true);
    assert.equal(a.count, 0);
    assert.doesNotThrow(() => a.dispose(), 'a second dispose is a no-op');
  });

  it('drops the value after release, so the library keeps nothing alive', () => {
    const a = RefCounted.create({ big: true }, () => {});
    const b = a.clone();
    a.dispose();
    b.dispose();
    assert.throws(() => b.value, UseAfterReleaseError);
  });

  it('cannot be constructed directly, and validates create', () => {
    assert.throws(() => new (RefCounted as unknown as new () => unknown)(), /RefCounted\.create/);
    assert.throws(() => new (Ref as unknown as new () => unknown)(), /RefCounted\.create/);
    assert.throws(() => RefCounted.create(1, 'no' as never), /Expected `release` to be a function/);
    assert.throws(() => RefCounted.create(1, () => {}, [] as never), /Expected `options`/);
  });
});
