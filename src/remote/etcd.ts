/**
 * The etcd backend: {@link etcdBackend} runs the protocol of `revocable/remote` on an `etcd3`
 * client the application already has. Leases are etcd's (linearizable, expired by the leader),
 * tokens are revisions, and watches resume from a revision after a reconnect.
 *
 * Layout under `prefix + encodeURIComponent(name)`:
 * - `/state`: absent while live; JSON `{ state, fence, revoker }` once a revoke began. Its create
 *   revision is the revoke's epoch.
 * - `/holders/<id>`: one key per holder, on the holder's lease; its create revision is the token.
 * - `/revoker`: the current revoker's id, on the revoker's lease, so that it disappears when the
 *   revoker dies and a later revoker takes over.
 * - `/detached/<id>`: written by a holder that detached during a revoke, so that the revoker can
 *   tell a detached holder from one cut off by its lease.
 *
 * Invariants:
 * 1. `attach` and `begin` are transactions that compare the state key: an attach commits only
 *    while it is absent, a begin creates it. etcd orders them, so no holder attaches after a begin.
 * 2. Every token (a holder key's create revision) issued before a begin is below the begin's
 *    revision, the epoch: revisions only grow.
 * 3. No runtime import of `etcd3`: the client is used through its own methods only.
 * 4. The watch is created (and connected) before the attach or begin it must see.
 *
 * @module
 */
import { expected } from '../internal/validate.js';
import { checkOptionalString, checkOptions } from '../internal/validate.js';
import type { AttachReply, BeginReply, FenceReply, HolderRef, PollReply, RemoteBackend, RemoteEvent, RenewReply, RevokerRef } from './backend.js';
import { RemoteProtocolError } from './errors.js';

/** A key-value as the `etcd3` client returns it. */
export interface EtcdKeyValue {
  /** The key, as bytes. */
  key: Uint8Array;
  /** The value, as bytes. */
  value: Uint8Array;
  /** The revision at which the key was created (a decimal string). */
  create_revision: string;
  /** The revision of the key's last change (a decimal string). */
  mod_revision: string;
  /** The id of the lease the key is attached to, `'0'` for none. */
  lease: string;
}

interface EtcdTxnResponse {
  succeeded: boolean;
  header: { revision: string };
  responses: { response_range?: { kvs: EtcdKeyValue[] } | null }[];
}

/** An operation that a transaction can carry: a put, get or delete builder of `etcd3`. */
export type EtcdOperation = object;

/** A transaction builder of `etcd3` (`client.if(...)`): compares, then operations, then commit. */
export interface EtcdTxn {
  /** Adds a comparison that must hold too. */
  and(key: string, column: 'Create' | 'Mod' | 'Value' | 'Version' | 'Lease', cmp: '==' | '!=' | '<' | '>', value: string | number): EtcdTxn;
  /** The operations to run when every comparison holds. */
  then(...operations: EtcdOperation[]): EtcdTxn;
  /** The operations to run otherwise. */
  else(...operations: EtcdOperation[]): EtcdTxn;
  /** Sends the transaction; resolves with etcd's response. */
  commit(): Promise<unknown>;
}

/** A lease of `etcd3` (`client.lease(ttl)`): granted on first use, kept alive or revoked. */
export interface EtcdLease {
  /** Grants the lease; resolves with its id. */
  grant(): Promise<string>;
  /** Renews the lease once; resolves with its new time to live. */
  keepaliveOnce(): Promise<{
    /** Seconds, as a decimal string. */
    TTL: string;
  }>;
  /** Revokes the lease on etcd: the keys attached to it go. */
  revoke(): Promise<void>;
  /** Stops keeping the lease alive here, without revoking it. */
  release(): void;
  /** `'lost'`: etcd no longer has the lease. */
  on(event: 'lost', handler: (error: Error) => void): unknown;
}

/** A watcher of `etcd3` (`client.watch().key(k).create()`). */
export interface EtcdWatcher {
  /** A key was put or deleted. */
  on(event: 'put' | 'delete', handler: (kv: EtcdKeyValue) => void): unknown;
  /** The watch failed. */
  on(event: 'error', handler: (error: Error) => void): unknown;
  /** Ends the watch. */
  cancel(): Promise<void>;
}

/**
 * The part of an `etcd3` `Etcd3` client this backend uses. An `Etcd3` instance fits it; the type is
 * spelled out so that `revocable/remote` imports nothing from `etcd3`, not even its types.
 */
export interface EtcdClient {
  /** Starts a transaction with its first comparison. */
  if(key: string, column: 'Create' | 'Mod' | 'Value' | 'Version' | 'Lease', cmp: '==' | '!=' | '<' | '>', value: string | number): EtcdTxn;
  /** A get of one key: an operation for a transaction, or run on its own. */
  get(key: string): EtcdOperation & {
    /** Runs the get; resolves with the key-values found. */
    exec(): Promise<{
      /** The key-values found: none, or the one. */
      kvs: EtcdKeyValue[];
    }>;
  };
  /** A get of many keys. */
  getAll(): {
    /** The keys that start with `prefix`. */
    prefix(prefix: string): {
      /** As they were at revision `rev`. */
      revision(rev: string): {
        /** Resolves with their names. */
        keys(): Promise<string[]>;
      };
      /** Resolves with their names. */
      keys(): Promise<string[]>;
      /** Resolves with how many there are. */
      count(): Promise<number>;
    };
  };
  /** A put of one key. */
  put(key: string): {
    /** With this value: an operation for a transaction. */
    value(value: string): EtcdOperation & {
      /** Attached to the lease `id`. */
      lease(id: string): EtcdOperation;
    };
  };
  /** A delete. */
  delete(): {
    /** Of one key: an operation for a transaction. */
    key(key: string): EtcdOperation;
    /** Of every key that starts with `prefix`: an operation for a transaction. */
    prefix(prefix: string): EtcdOperation;
  };
  /** A lease of `ttl` seconds. */
  lease(ttl: number, options?: { autoKeepAlive?: boolean }): EtcdLease;
  /** A watch. */
  watch(): {
    /** Of one key. */
    key(key: string): {
      /** Starts it; resolves once it is in place. */
      create(): Promise<EtcdWatcher>;
    };
    /** Of every key that starts with `prefix`. */
    prefix(prefix: string): {
      /** Starts it; resolves once it is in place. */
      create(): Promise<EtcdWatcher>;
    };
  };
}

/** Options of {@link etcdBackend}. */
export interface EtcdBackendOptions {
  /** Prepended to every key. Default `'revocable/'`. */
  prefix?: string;
}

/** etcd's shortest lease: its leader would lengthen a shorter TTL to 2 s anyway. */
const MIN_LEASE_MS = 2000;

/**
 * A backend on etcd, through the application's own `etcd3` client.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { Etcd3 } from 'etcd3';
 * import { etcdBackend } from 'revocable/remote';
 *
 * const client = new Etcd3({ hosts: 'http://127.0.0.1:2379' }); // connects on first use
 * const backend = etcdBackend(client);
 * assert.equal(backend.engine, 'etcd');
 * assert.equal(backend.minLeaseMs, 2000); // etcd's shortest lease
 * client.close();
 * ```
 */
export function etcdBackend(client: EtcdClient, options?: EtcdBackendOptions): RemoteBackend {
  const methods = ['if', 'get', 'getAll', 'put', 'delete', 'lease', 'watch'] as const;
  if (client === null || typeof client !== 'object' || !methods.every((m) => typeof (client as unknown as Record<string, unknown>)[m] === 'function')) {
    throw expected('an etcd3 client (new Etcd3(...))', 'client', client);
  }
  checkOptions(options);
  const prefix = options?.prefix;
  checkOptionalString(prefix, 'prefix');
  return new EtcdBackend(client, prefix ?? 'revocable/');
}

interface Keys {
  base: string;
  state: string;
  holders: string;
  revoker: string;
  detached: string;
}

interface StateValue {
  state: 'revoking' | 'revoked';
  fence: string;
  revoker: string;
}

const decoder = new TextDecoder();
const text = (bytes: Uint8Array): string => decoder.decode(bytes);

function isLeaseGone(error: unknown): boolean {
  const e = error as { constructor?: { name?: string }; message?: unknown } | null;
  return e?.constructor?.name === 'EtcdLeaseInvalidError' || /expired or revoked|requested lease not found/.test(String(e?.message));
}

class EtcdBackend implements RemoteBackend {
  readonly engine = 'etcd';
  readonly minLeaseMs = MIN_LEASE_MS;
  readonly #client: EtcdClient;
  readonly #prefix: string;
  /** The leases this backend granted, by id: etcd3's Lease objects cannot be rebuilt from an id. */
  readonly #leases = new Map<string, EtcdLease>();

  constructor(client: EtcdClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  #keys(name: string): Keys {
    const base = `${this.#prefix}${encodeURIComponent(name)}`;
    return { base, state: `${base}/state`, holders: `${base}/holders/`, revoker: `${base}/revoker`, detached: `${base}/detached/` };
  }

  async #grant(leaseMs: number): Promise<{ id: string; lease: EtcdLease }> {
    const lease = this.#client.lease(Math.max(2, Math.ceil(leaseMs / 1000)), { autoKeepAlive: false });
    lease.on('lost', ignore);
    const id = await lease.grant();
    return { id, lease };
  }

  #drop(id: string): void {
    const lease = this.#leases.get(id);
    this.#leases.delete(id);
    if (lease !== undefined) lease.revoke().catch(ignore);
  }

  async #state(name: string): Promise<{ value: StateValue; epoch: bigint; raw: string } | null> {
    const { kvs } = await this.#client.get(this.#keys(name).state).exec();
    const kv = kvs[0];
    return kv === undefined ? null : parseState(kv);
  }

  async watch(name: string, onEvent: (event: RemoteEvent) => void, only?: 'state'): Promise<() => Promise<void>> {
    const keys = this.#keys(name);
    const builder = this.#client.watch();
    const watcher = await (only === 'state' ? builder.key(keys.state) : builder.prefix(`${keys.base}/`)).create();
    const classify = (kv: EtcdKeyValue): void => {
      const key = text(kv.key);
      onEvent(key === keys.state ? 'state' : key === keys.revoker ? 'revoker' : 'holders');
    };
    watcher.on('put', classify);
    watcher.on('delete', classify);
    // A watch that fails is a lost hint, not a failure: let the watcher re-check now.
    watcher.on('error', () => onEvent('state'));
    return () => watcher.cancel().catch(ignore);
  }

  async attach(name: string, holderId: string, leaseMs: number): Promise<AttachReply> {
    const keys = this.#keys(name);
    const client = this.#client;
    const holderKey = keys.holders + encodeURIComponent(holderId);
    const { id, lease } = await this.#grant(leaseMs);
    let reply: EtcdTxnResponse;
    try {
      reply = (await client
        .if(keys.state, 'Create', '==', 0)
        .and(holderKey, 'Create', '==', 0)
        .then(client.put(holderKey).value(holderId).lease(id))
        .else(client.get(keys.state))
        .commit()) as EtcdTxnResponse;
    } catch (error) {
      lease.revoke().catch(ignore);
      throw error;
    }
    if (reply.succeeded) {
      this.#leases.set(id, lease);
      return { kind: 'attached', token: BigInt(reply.header.revision), lease: id };
    }
    lease.revoke().catch(ignore);
    const kv = reply.responses[0]?.response_range?.kvs[0];
    if (kv === undefined) return { kind: 'conflict' };
    return { kind: 'refused', state: parseState(kv).value.state };
  }

  async renew(name: string, holder: HolderRef, _leaseMs: number): Promise<RenewReply> {
    const lease = this.#leases.get(holder.lease);
    if (lease === undefined) return { kind: 'lost' };
    // The keepalive and the state read go out together: the kick rides on the renewal.
    const [alive, state] = await Promise.all([
      lease.keepaliveOnce().then(
        (answer) => answer.TTL !== '0',
        (error: unknown) => {
          if (isLeaseGone(error)) return false;
          throw error;
        },
      ),
      this.#state(name),
    ]);
    if (!alive) {
      this.#leases.delete(holder.lease);
      return { kind: 'lost' };
    }
    return state === null ? { kind: 'renewed', state: 'live', epoch: 0n } : { kind: 'renewed', state: state.value.state, epoch: state.epoch };
  }

  async detach(name: string, holder: HolderRef): Promise<void> {
    const keys = this.#keys(name);
    const client = this.#client;
    const holderKey = keys.holders + encodeURIComponent(holder.holderId);
    const token = String(holder.token);
    const live = (await client.if(holderKey, 'Create', '==', token).and(keys.state, 'Create', '==', 0).then(client.delete().key(holderKey)).commit()) as EtcdTxnResponse;
    if (!live.succeeded) {
      // A revoke has begun (the state key never goes away again): leave a marker for its revoker.
      await client
        .if(holderKey, 'Create', '==', token)
        .then(client.delete().key(holderKey), client.put(keys.detached + encodeURIComponent(holder.holderId)).value(token))
        .commit();
    }
    this.#drop(holder.lease);
  }

  async begin(name: string, revokerId: string, leaseMs: number): Promise<BeginReply> {
    const keys = this.#keys(name);
    const client = this.#client;
    const { id, lease } = await this.#grant(leaseMs);
    const value = JSON.stringify({ state: 'revoking', fence: '0', revoker: revokerId } satisfies StateValue);
    try {
      for (let attempt = 0; ; attempt++) {
        const reply = (await client
          .if(keys.state, 'Create', '==', 0)
          .then(client.put(keys.state).value(value), client.put(keys.revoker).value(revokerId).lease(id))
          .else(client.get(keys.state), client.get(keys.revoker))
          .commit()) as EtcdTxnResponse;
        if (reply.succeeded) {
          this.#leases.set(id, lease);
          return { kind: 'begun', epoch: BigInt(reply.header.revision), lease: id, tookOver: false };
        }
        const stateKv = reply.responses[0]?.response_range?.kvs[0];
        if (stateKv === undefined) continue;
        const state = parseState(stateKv);
        if (state.value.state === 'revoked') {
          lease.revoke().catch(ignore);
          return { kind: 'revoked', epoch: state.epoch, fence: BigInt(state.value.fence) };
        }
        const claim = reply.responses[1]?.response_range?.kvs[0];
        if (claim !== undefined && text(claim.value) === revokerId && this.#leases.has(claim.lease)) {
          lease.revoke().catch(ignore);
          return { kind: 'begun', epoch: state.epoch, lease: claim.lease, tookOver: false };
        }
        if (claim !== undefined) {
          lease.revoke().catch(ignore);
          // The claim ends with its lease; the watch reports the revoker key's deletion sooner.
          return { kind: 'busy', epoch: state.epoch, retryInMs: Math.max(MIN_LEASE_MS, leaseMs) };
        }
        // The last revoker's lease expired: take over, if nobody else does first.
        const mine = JSON.stringify({ ...state.value, revoker: revokerId } satisfies StateValue);
        const took = (await client
          .if(keys.revoker, 'Create', '==', 0)
          .and(keys.state, 'Mod', '==', stateKv.mod_revision)
          .then(client.put(keys.revoker).value(revokerId).lease(id), client.put(keys.state).value(mine))
          .commit()) as EtcdTxnResponse;
        if (took.succeeded) {
          this.#leases.set(id, lease);
          return { kind: 'begun', epoch: state.epoch, lease: id, tookOver: true };
        }
        if (attempt >= 3) {
          lease.revoke().catch(ignore);
          return { kind: 'busy', epoch: state.epoch, retryInMs: 0 };
        }
      }
    } catch (error) {
      if (!this.#leases.has(id)) lease.revoke().catch(ignore);
      throw error;
    }
  }

  async renewRevoker(name: string, revoker: RevokerRef, _leaseMs: number): Promise<boolean> {
    const lease = this.#leases.get(revoker.lease);
    if (lease === undefined) return false;
    try {
      const answer = await lease.keepaliveOnce();
      if (answer.TTL !== '0') return true;
    } catch (error) {
      if (!isLeaseGone(error)) throw error;
    }
    this.#leases.delete(revoker.lease);
    return false;
  }

  async poll(name: string): Promise<PollReply> {
    // etcd's leader expires the leases (every 500 ms); the watch reports each key it deletes.
    return { holders: await this.#client.getAll().prefix(this.#keys(name).holders).count(), nextExpiryMs: null };
  }

  async raiseFence(name: string, revoker: RevokerRef, epoch: bigint): Promise<FenceReply> {
    const keys = this.#keys(name);
    const client = this.#client;
    const value = JSON.stringify({ state: 'revoking', fence: String(epoch), revoker: revoker.revokerId } satisfies StateValue);
    const reply = (await client
      .if(keys.revoker, 'Value', '==', revoker.revokerId)
      .and(keys.state, 'Create', '==', String(epoch))
      .then(client.put(keys.state).value(value))
      .commit()) as EtcdTxnResponse;
    if (!reply.succeeded) return { kind: 'not-revoker' };
    return { kind: 'fenced', fence: epoch, cutOff: await this.#cutOff(keys, epoch) };
  }

  /** The holders at the begin's revision that left no detached marker: their lease cut them off. */
  async #cutOff(keys: Keys, epoch: bigint): Promise<string[]> {
    let before: string[];
    try {
      before = await this.#client.getAll().prefix(keys.holders).revision(String(epoch)).keys();
    } catch (error) {
      // A compacted history no longer knows who held the resource at the begin.
      if (/compacted/.test(String((error as { message?: unknown } | null)?.message))) return [];
      throw error;
    }
    const detached = new Set((await this.#client.getAll().prefix(keys.detached).keys()).map((key) => key.slice(keys.detached.length)));
    return before
      .map((key) => key.slice(keys.holders.length))
      .filter((id) => !detached.has(id))
      .map((id) => decodeURIComponent(id))
      .sort();
  }

  async finish(name: string, revoker: RevokerRef, epoch: bigint): Promise<boolean> {
    const keys = this.#keys(name);
    const client = this.#client;
    const fenced = JSON.stringify({ state: 'revoking', fence: String(epoch), revoker: revoker.revokerId } satisfies StateValue);
    const done = JSON.stringify({ state: 'revoked', fence: String(epoch), revoker: revoker.revokerId } satisfies StateValue);
    const writes = (): EtcdOperation[] => [client.put(keys.state).value(done), client.delete().key(keys.revoker), client.delete().prefix(keys.detached)];
    let reply = (await client.if(keys.revoker, 'Value', '==', revoker.revokerId).and(keys.state, 'Value', '==', fenced).then(...writes()).commit()) as EtcdTxnResponse;
    // The claim's lease may have run out during a long release with nobody taking over: still ours.
    if (!reply.succeeded) reply = (await client.if(keys.revoker, 'Create', '==', 0).and(keys.state, 'Value', '==', fenced).then(...writes()).commit()) as EtcdTxnResponse;
    this.#drop(revoker.lease);
    return reply.succeeded;
  }

  async abandon(name: string, revoker: RevokerRef): Promise<void> {
    const keys = this.#keys(name);
    await this.#client.if(keys.revoker, 'Value', '==', revoker.revokerId).then(this.#client.delete().key(keys.revoker)).commit();
    this.#drop(revoker.lease);
  }

  async fence(name: string): Promise<bigint> {
    const state = await this.#state(name);
    return state === null ? 0n : BigInt(state.value.fence);
  }
}

function parseState(kv: EtcdKeyValue): { value: StateValue; epoch: bigint; raw: string } {
  const raw = text(kv.value);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const v = value as Partial<StateValue> | undefined;
  if (v === undefined || (v.state !== 'revoking' && v.state !== 'revoked') || typeof v.fence !== 'string' || !/^\d+$/.test(v.fence)) {
    throw new RemoteProtocolError(`etcd: the state key ${text(kv.key)} holds ${JSON.stringify(raw.slice(0, 80))}, which this library did not write`);
  }
  return { value: v as StateValue, epoch: BigInt(kv.create_revision), raw };
}

const ignore = (): void => {};
