/**
 * `revocable/remote`: revocation across processes and machines, on an engine the application
 * already runs (Redis, etcd). Holders attach with a lease and serve accesses through a local gate;
 * `revokeRemote` in any process drains them all, cuts off the ones that crashed by their lease,
 * raises the fence, then releases. No runtime dependency: a backend adapts the application's client.
 *
 * @module revocable/remote
 */
export { RemoteHolder, DEFAULT_LEASE_MS } from './holder.js';
export type { RemoteHolderOptions, RemoteHolderState } from './holder.js';
export { revokeRemote, DEFAULT_REVOKER_LEASE_MS } from './revoke.js';
export type { RemoteReleaseInfo, RevokeRemoteOptions, RevokeRemoteResult } from './revoke.js';
export { checkFence } from './fence.js';
export { HolderLostError, RemoteProtocolError, RemoteUnavailableError, StaleTokenError } from './errors.js';
export { redisBackend } from './redis.js';
export { etcdBackend } from './etcd.js';
export type { EtcdBackendOptions, EtcdClient, EtcdKeyValue, EtcdLease, EtcdOperation, EtcdTxn, EtcdWatcher } from './etcd.js';
export type { RedisBackendOptions, RedisCommand, RedisSubscribe, RedisUnsubscribe } from './redis.js';
export type { AttachReply, BeginReply, FenceReply, HolderRef, PollReply, RemoteBackend, RemoteEvent, RemoteResourceState, RenewReply, RevokerRef } from './backend.js';
