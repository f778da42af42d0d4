/**
 * The consumer API as interfaces: code typed to `RevocableLike`, `RevocableHandleLike` and
 * `AccessLike` takes the core's classes and the shared ones alike, with no cast. The core's classes
 * have `#private` fields, so TypeScript would not let a SharedRevocableHandle pass for a
 * RevocableHandle: these interfaces are how one function serves both. This file is also a
 * compile-time check (npm test typechecks it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Revocable } from '../../src/index.js';
import { SharedRevocable, type AccessLike, type RevocableHandleLike, type RevocableLike } from '../../src/shared/index.js';
import '../support/leaks.js';

interface Port {
  writes: string[];
}

/** A consumer written once, against the interfaces. */
async function writeThenUnplug(resource: RevocableLike<Port>, text: string): Promise<string[]> {
  const handle: RevocableHandleLike<Port> = resource.handle();
  const access: AccessLike<Port> | null = handle.tryAccess();
  access?.value.writes.push(text);
  access?.release();
  handle.with((port) => port.writes.push(`${text} again`));
  await resource.revoke();
  assert.equal(handle.tryWith(() => 1), undefined);
  return handle.closed ? [] : ['closed: no'];
}

describe('the consumer API as interfaces', () => {
  it('lets one function take a Revocable or a SharedRevocable, unchanged', async () => {
    const core = { writes: [] as string[] };
    const shared = { writes: [] as string[] };
    await writeThenUnplug(new Revocable(core), 'core');
    await writeThenUnplug(SharedRevocable.create(shared), 'shared');
    assert.deepEqual(core.writes, ['core', 'core again']);
    assert.deepEqual(shared.writes, ['shared', 'shared again']);
  });

  it('does not leak the gate when a returned value has a `then` getter that throws', async () => {
    const hostile = {
      get then(): never {
        throw new Error('then getter');
      },
    };
    const shared = SharedRevocable.create({ method: () => hostile });
    assert.throws(() => shared.tryWith(() => hostile), /then getter/);
    assert.throws(() => shared.with(() => hostile), /then getter/);
    assert.throws(() => shared.handle().proxy().method(), /then getter/, 'nor through the proxy');
    assert.equal(shared.accesses, 0);
    assert.equal(await shared.revoke(), true);
  });
});
