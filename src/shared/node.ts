/**
 * `revocable/shared` under Node (the `node` condition of its export): the same module, with threads
 * named by `worker_threads.threadId` without the caller passing it.
 *
 * @module
 */
import { threadId } from 'node:worker_threads';
import { setThreadIdSource } from './internal/thread.js';

setThreadIdSource(() => threadId);

export * from './index.js';
