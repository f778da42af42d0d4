/**
 * The Redis backend: {@link redisBackend} adapts the application's own Redis client (node-redis,
 * ioredis, or anything that sends a command and returns its reply) to the protocol of
 * `revocable/remote`, with every step an atomic Lua script and lease expiry judged by the server's
 * clock (`TIME` inside the scripts).
 *
 * Invariants:
 * 1. No runtime dependency: the backend only calls `command(args)` and `subscribe(channel, fn)`.
 * 2. Scripts run by `EVALSHA`; after `NOSCRIPT` (a restarted or failed-over server) the same call
 *    is sent as `EVAL`, which also caches the script again.
 * 3. One subscription per channel, however many holders and revokers of that resource this
 *    process runs: the backend fans messages out, and unsubscribes when the last one leaves.
 * 4. A reply that does not have the shape the scripts return is a `RemoteProtocolError`.
 *
 * @module
 */
import { checkOptionalFunction, checkOptionalString, checkOptions, checkFunction } from '../internal/validate.js';
import type { AttachReply, BeginReply, FenceReply, HolderRef, PollReply, RemoteBackend, RemoteEvent, RenewReply, RevokerRef } from './backend.js';
import { RemoteProtocolError } from './errors.js';
import { source, type ScriptName } from './internal/redis-scripts.js';

/** Sends one command (`['HGET', key, field]`) and resolves with its reply. */
export type RedisCommand = (args: string[]) => Promise<unknown>;

/** An unsubscribe function, as `subscribe` returns it (sync or async). */
export type RedisUnsubscribe = () => void | Promise<void>;

/**
 * Subscribes `onMessage` to `channel` on a connection in subscriber mode (not the `command` one);
 * returns (or resolves with) a function that unsubscribes it.
 */
export type RedisSubscribe = (channel: string, onMessage: (message: string) => void) => RedisUnsubscribe | Promise<RedisUnsubscribe>;

/** Options of {@link redisBackend}. */
export interface RedisBackendOptions {
  /** Sends a command on the application's client: node-redis `sendCommand`, ioredis `call`. */
  command: RedisCommand;
  /**
   * Subscribes to a channel, for prompt notice of revokes and detaches. Optional: without it,
   * holders learn of a revoke at their next renewal (at most a third of their lease later) and
   * revokers poll.
   */
  subscribe?: RedisSubscribe;
  /** Prepended to every key and channel. Default `'revocable:'`. */
  prefix?: string;
}

/**
 * A backend on Redis, through the application's own client.
 *
 * @example
 * ```ts
 * import assert from 'node:assert/strict';
 * import { createClient } from 'redis';
 * import { redisBackend } from 'revocable/remote';
 *
 * const client = createClient({ url: 'redis://127.0.0.1:6379' }); // node-redis: connect() both before use
 * const subscriber = client.duplicate();
 * const backend = redisBackend({
 *   command: (args) => client.sendCommand(args),
 *   subscribe: async (channel, onMessage) => {
 *     await subscriber.subscribe(channel, onMessage);
 *     return () => subscriber.unsubscribe(channel, onMessage);
 *   },
 * });
 * assert.equal(backend.engine, 'redis');
 * ```
 */
export function redisBackend(options: RedisBackendOptions): RemoteBackend {
  checkOptions(options);
  if (options === undefined) checkFunction(undefined, 'command');
  const command = options.command;
  checkFunction(command, 'command');
  const subscribe = options.subscribe;
  checkOptionalFunction(subscribe, 'subscribe');
  const prefix = options.prefix;
  checkOptionalString(prefix, 'prefix');
  return new RedisBackend(command as RedisCommand, subscribe as RedisSubscribe | undefined, prefix ?? 'revocable:');
}

interface Keys {
  readonly keys: string[];
  readonly channel: string;
}

interface Channel {
  readonly listeners: Set<(event: RemoteEvent) => void>;
  /** Settles when the subscription is in place; holds its unsubscribe function. */
  readonly subscribed: Promise<RedisUnsubscribe>;
}

const shas = new Map<ScriptName, Promise<string>>();

async function sha1(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-1', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

function shaOf(script: ScriptName): Promise<string> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = sha1(source(script));
    shas.set(script, sha);
  }
  return sha;
}

class RedisBackend implements RemoteBackend {
  readonly engine = 'redis';
  readonly minLeaseMs = 1;
  readonly #command: RedisCommand;
  readonly #subscribe: RedisSubscribe | undefined;
  readonly #prefix: string;
  readonly #channels = new Map<string, Channel>();

  constructor(command: RedisCommand, subscribe: RedisSubscribe | undefined, prefix: string) {
    this.#command = command;
    this.#subscribe = subscribe;
    this.#prefix = prefix;
  }

  #keys(name: string): Keys {
    const base = `${this.#prefix}{${name}}`;
    return {
      keys: [`${base}:state`, `${base}:holders`, `${base}:tokens`, `${base}:counter`, `${base}:revoker`, `${base}:cutoff`],
      channel: `${base}:events`,
    };
  }

  async #run(script: ScriptName, name: string, args: readonly string[]): Promise<unknown> {
    const { keys, channel } = this.#keys(name);
    const tail = [String(keys.length), ...keys, channel, ...args];
    const sha = await shaOf(script);
    try {
      return await this.#command(['EVALSHA', sha, ...tail]);
    } catch (error) {
      if (!/NOSCRIPT/.test(String((error as { message?: unknown } | null)?.message ?? error))) throw error;
    }
    return this.#command(['EVAL', source(script), ...tail]);
  }

  async watch(name: string, onEvent: (event: RemoteEvent) => void, only?: 'state'): Promise<() => Promise<void>> {
    const subscribe = this.#subscribe;
    if (subscribe === undefined) return async () => {};
    const { channel } = this.#keys(name);
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const listeners = new Set<(event: RemoteEvent) => void>();
      const subscribed = Promise.resolve().then(() =>
        subscribe(channel, (message) => {
          const event = text(message);
          if (event !== 'state' && event !== 'holders' && event !== 'revoker') return;
          for (const listener of [...listeners]) listener(event);
        }),
      );
      entry = { listeners, subscribed };
      this.#channels.set(channel, entry);
      subscribed.catch(() => {
        if (this.#channels.get(channel) === entry) this.#channels.delete(channel);
      });
    }
    const current = entry;
    // A distinct function per watch, so that one process's watches of a resource stay apart.
    const listener = (event: RemoteEvent): void => {
      if (only === undefined || event === only) onEvent(event);
    };
    current.listeners.add(listener);
    try {
      await current.subscribed;
    } catch (error) {
      current.listeners.delete(listener);
      throw error;
    }
    return async () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0) return;
      if (this.#channels.get(channel) === current) this.#channels.delete(channel);
      const unsubscribe = await current.subscribed;
      await unsubscribe();
    };
  }

  async attach(name: string, holderId: string, leaseMs: number): Promise<AttachReply> {
    const reply = list(await this.#run('attach', name, [holderId, String(Math.ceil(leaseMs))]), 'attach');
    const code = int(reply[0], 'attach');
    if (code === 1) return { kind: 'attached', token: big(reply[1], 'attach'), lease: holderId };
    if (code === 2) return { kind: 'conflict' };
    const state = text(reply[1]);
    if (state !== 'revoking' && state !== 'revoked') throw new RemoteProtocolError(`attach: unexpected state ${JSON.stringify(state)}`);
    return { kind: 'refused', state };
  }

  async renew(name: string, holder: HolderRef, leaseMs: number): Promise<RenewReply> {
    const reply = list(await this.#run('renew', name, [holder.holderId, String(holder.token), String(Math.ceil(leaseMs))]), 'renew');
    if (int(reply[0], 'renew') !== 1) return { kind: 'lost' };
    return { kind: 'renewed', state: stateOf(reply[1], 'renew'), epoch: big(reply[2], 'renew') };
  }

  async detach(name: string, holder: HolderRef): Promise<void> {
    await this.#run('detach', name, [holder.holderId, String(holder.token)]);
  }

  async begin(name: string, revokerId: string, leaseMs: number): Promise<BeginReply> {
    const reply = list(await this.#run('begin', name, [revokerId, String(Math.ceil(leaseMs))]), 'begin');
    const kind = text(reply[0]);
    const epoch = big(reply[1], 'begin');
    if (kind === 'begun') return { kind, epoch, lease: revokerId, tookOver: int(reply[2], 'begin') === 1 };
    if (kind === 'busy') return { kind, epoch, retryInMs: Math.max(0, int(reply[2], 'begin')) };
    if (kind === 'revoked') return { kind, epoch, fence: big(reply[2], 'begin') };
    throw new RemoteProtocolError(`begin: unexpected reply ${JSON.stringify(kind)}`);
  }

  async renewRevoker(name: string, revoker: RevokerRef, leaseMs: number): Promise<boolean> {
    return int(await this.#run('renewRevoker', name, [revoker.revokerId, String(Math.ceil(leaseMs))]), 'renewRevoker') === 1;
  }

  async poll(name: string): Promise<PollReply> {
    const reply = list(await this.#run('poll', name, []), 'poll');
    const next = int(reply[1], 'poll');
    return { holders: int(reply[0], 'poll'), nextExpiryMs: next < 0 ? null : next };
  }

  async raiseFence(name: string, revoker: RevokerRef, epoch: bigint): Promise<FenceReply> {
    const reply = list(await this.#run('raiseFence', name, [revoker.revokerId, String(epoch)]), 'raiseFence');
    if (int(reply[0], 'raiseFence') !== 1) return { kind: 'not-revoker' };
    return { kind: 'fenced', fence: big(reply[1], 'raiseFence'), cutOff: list(reply[2], 'raiseFence').map(text).sort() };
  }

  async finish(name: string, revoker: RevokerRef, epoch: bigint): Promise<boolean> {
    return int(await this.#run('finish', name, [revoker.revokerId, String(epoch)]), 'finish') === 1;
  }

  async abandon(name: string, revoker: RevokerRef): Promise<void> {
    await this.#run('abandon', name, [revoker.revokerId]);
  }

  async fence(name: string): Promise<bigint> {
    const [state] = this.#keys(name).keys as [string];
    const reply = await this.#command(['HGET', state, 'fence']);
    return reply === null || reply === undefined ? 0n : big(reply, 'fence');
  }
}

function list(reply: unknown, step: string): unknown[] {
  if (!Array.isArray(reply)) throw new RemoteProtocolError(`${step}: expected an array reply from Redis, got ${typeof reply}`);
  return reply;
}

function int(value: unknown, step: string): number {
  const number = typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isFinite(number)) throw new RemoteProtocolError(`${step}: expected an integer from Redis, got ${String(value)}`);
  return number;
}

function big(value: unknown, step: string): bigint {
  if (typeof value === 'bigint') return value;
  if ((typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^\d+$/.test(value))) return BigInt(value);
  if (value instanceof Uint8Array) return big(text(value), step);
  throw new RemoteProtocolError(`${step}: expected an integer from Redis, got ${String(value)}`);
}

/** A bulk string as text: some clients hand them over as bytes. */
function text(value: unknown): string {
  return value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);
}

function stateOf(value: unknown, step: string): 'live' | 'revoking' | 'revoked' {
  const state = text(value);
  if (state === 'live' || state === 'revoking' || state === 'revoked') return state;
  throw new RemoteProtocolError(`${step}: unexpected state ${JSON.stringify(state)}`);
}
