/**
 * Bad input from untyped callers: every public function of `revocable/remote` refuses it with a
 * TypeError or RangeError that names the parameter, before it sends anything to the engine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DrainTimeoutError } from '../../src/index.js';
import { Etcd3 } from 'etcd3';
import { RemoteHolder, checkFence, etcdBackend, redisBackend, revokeRemote, type RemoteBackend } from '../../src/remote/index.js';
import '../support/leaks.js';

const named = (kind: typeof TypeError | typeof RangeError, parameter: string) => (error: unknown) =>
  error instanceof kind && error.message.includes(`\`${parameter}\``);

/** A Redis backend whose every command is counted and fails: nothing must reach it. */
function countingBackend(): { backend: RemoteBackend; sent: () => number } {
  let sent = 0;
  const backend = redisBackend({
    command: async () => {
      sent++;
      throw new Error('no server here');
    },
  });
  return { backend, sent: () => sent };
}

describe('redisBackend', () => {
  it('refuses a missing or non-function command, naming `command`', () => {
    assert.throws(() => redisBackend(undefined as never), named(TypeError, 'command'));
    assert.throws(() => redisBackend({} as never), named(TypeError, 'command'));
    assert.throws(() => redisBackend({ command: 'EVAL' } as never), named(TypeError, 'command'));
    assert.throws(() => redisBackend(null as never), named(TypeError, 'options'));
  });

  it('refuses a subscribe that is not a function and a prefix that is not a string', () => {
    const command = async (): Promise<unknown> => null;
    assert.throws(() => redisBackend({ command, subscribe: {} as never }), named(TypeError, 'subscribe'));
    assert.throws(() => redisBackend({ command, prefix: 1 as never }), named(TypeError, 'prefix'));
  });
});

describe('etcdBackend', () => {
  it('refuses anything but an etcd3 client, naming `client`', () => {
    assert.throws(() => etcdBackend({} as never), named(TypeError, 'client'));
    assert.throws(() => etcdBackend(undefined as never), named(TypeError, 'client'));
  });

  it('refuses a lease under etcd\'s minimum of 2 s, naming `leaseMs`, before any network', async () => {
    const client = new Etcd3({ hosts: 'http://127.0.0.1:1' });
    try {
      const backend = etcdBackend(client);
      assert.equal(backend.minLeaseMs, 2000);
      await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { leaseMs: 1000 }), (error: unknown) => named(RangeError, 'leaseMs')(error) && /2000/.test((error as Error).message));
      await assert.rejects(revokeRemote(backend, 'r', { revokerLeaseMs: 1999 }), named(RangeError, 'revokerLeaseMs'));
    } finally {
      client.close();
    }
  });
});

describe('RemoteHolder.attach', () => {
  it('refuses a backend that is not one, naming `backend`', async () => {
    await assert.rejects(RemoteHolder.attach({} as never, 'r', {}), named(TypeError, 'backend'));
    await assert.rejects(RemoteHolder.attach(null as never, 'r', {}), named(TypeError, 'backend'));
  });

  it('refuses an empty or non-string name, naming `name`', async () => {
    const { backend, sent } = countingBackend();
    await assert.rejects(RemoteHolder.attach(backend, '', {}), named(TypeError, 'name'));
    await assert.rejects(RemoteHolder.attach(backend, 42 as never, {}), named(TypeError, 'name'));
    assert.equal(sent(), 0);
  });

  it('refuses a lease <= 0, not finite or past the longest timer, naming `leaseMs`, and sends nothing', async () => {
    const { backend, sent } = countingBackend();
    for (const leaseMs of [0, -1, NaN, Infinity, 2 ** 31]) await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { leaseMs }), named(RangeError, 'leaseMs'));
    await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { leaseMs: '1000' as never }), named(TypeError, 'leaseMs'));
    await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { margin: 1 }), named(RangeError, 'margin'));
    await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { holderId: '' }), named(TypeError, 'holderId'));
    await assert.rejects(RemoteHolder.attach(backend, 'r', {}, { onLost: 'log' as never }), named(TypeError, 'onLost'));
    await assert.rejects(RemoteHolder.attach(backend, 'r', null), named(TypeError, 'resource'));
    assert.equal(sent(), 0, 'nothing reached the engine');
  });

  it('reads each option once: a getter cannot pass the check and then hand over something else', async () => {
    const { backend } = countingBackend();
    let reads = 0;
    const options = {
      get leaseMs(): number {
        return reads++ === 0 ? 1000 : -1;
      },
    };
    await assert.rejects(RemoteHolder.attach(backend, 'r', {}, options), /no server here/);
    assert.equal(reads, 1);
  });
});

describe('revokeRemote', () => {
  it('refuses a timeout beyond 2^31 - 1 ms (it would fire at once) or below 0, naming `timeout`', async () => {
    const { backend, sent } = countingBackend();
    await assert.rejects(revokeRemote(backend, 'r', { timeout: 2 ** 31 }), named(RangeError, 'timeout'));
    await assert.rejects(revokeRemote(backend, 'r', { timeout: -1 }), named(RangeError, 'timeout'));
    await assert.rejects(revokeRemote(backend, 'r', { timeout: '5' as never }), named(TypeError, 'timeout'));
    await assert.rejects(revokeRemote(backend, 'r', { graceMs: Infinity }), named(RangeError, 'graceMs'));
    await assert.rejects(revokeRemote(backend, 'r', { revokerLeaseMs: 0 }), named(RangeError, 'revokerLeaseMs'));
    await assert.rejects(revokeRemote(backend, 'r', { release: 1 as never }), named(TypeError, 'release'));
    await assert.rejects(revokeRemote(backend, '', {}), named(TypeError, 'name'));
    await assert.rejects(revokeRemote({} as never, 'r'), named(TypeError, 'backend'));
    assert.equal(sent(), 0);
  });

  it('honours a finite timeout: an engine that never answers fails the call at its timeout, with the cause', async () => {
    const { backend } = countingBackend();
    await assert.rejects(revokeRemote(backend, 'r', { timeout: 50 }), (error: unknown) => (error as { code?: string }).code === 'ERR_REMOTE_UNAVAILABLE' && /no server here/.test(String((error as Error).cause)));
  });
});

describe('revokeRemote under a slow engine', () => {
  /** An engine that answers until the drain has seen a holder, then goes silent (slow, not failing). */
  function slowingBackend(): { backend: RemoteBackend; abandoned: () => number } {
    let polls = 0;
    let abandoned = 0;
    const never = new Promise<never>(() => {});
    const backend: RemoteBackend = {
      engine: 'slow',
      minLeaseMs: 1,
      // A holder set that changes soon: the revoker polls again, and that poll is in flight at the deadline.
      watch: async (_name, onEvent) => {
        const timer = setTimeout(() => onEvent('holders'), 10);
        return () => clearTimeout(timer);
      },
      attach: () => never,
      renew: () => never,
      detach: () => never,
      begin: async () => ({ kind: 'begun', epoch: 1n, lease: 'claim', tookOver: false }),
      renewRevoker: async () => true,
      poll: () => (polls++ === 0 ? Promise.resolve({ holders: 1, nextExpiryMs: null }) : never),
      raiseFence: () => never,
      finish: () => never,
      abandon: async () => void abandoned++,
      fence: async () => 0n,
    };
    return { backend, abandoned: () => abandoned };
  }

  it('rejects DrainTimeoutError with the holders last seen when the timeout passes during a poll, and gives up its claim', async () => {
    const { backend, abandoned } = slowingBackend();
    await assert.rejects(
      revokeRemote(backend, 'tenant:1', { timeout: 100 }),
      (error: unknown) => error instanceof DrainTimeoutError && error.pending === 1 && error.timeout === 100,
    );
    assert.equal(abandoned(), 1);
  });
});

describe('checkFence', () => {
  it('refuses a token below the fence, accepts one at or above it, and names a wrong-typed argument', () => {
    assert.doesNotThrow(() => checkFence(5n, 0n));
    assert.doesNotThrow(() => checkFence(5n, 5n));
    assert.throws(() => checkFence(4n, 5n, 'tenant:42'), (error: unknown) => (error as { code?: string }).code === 'ERR_STALE_TOKEN' && /"tenant:42"/.test((error as Error).message));
    assert.throws(() => checkFence(5 as never, 0n), named(TypeError, 'token'));
    assert.throws(() => checkFence(5n, '0' as never), named(TypeError, 'fence'));
  });
});
