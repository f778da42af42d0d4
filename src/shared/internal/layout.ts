/**
 * The memory of a `SharedRevocable`: one `Int32Array` over one `SharedArrayBuffer`, the same in
 * every thread. A 64-byte header, then one 64-byte slot per thread (one cache line each, so two
 * threads' read sides never write the same line), then a small trailer where the owner leaves the
 * text of a failed release for revokers in other threads.
 *
 * Invariants:
 * 1. Every word below is read and written only with `Atomics` operations (sequentially
 *    consistent), so any interleaving of threads is one of the orders a model checker explores.
 * 2. A slot's count is the number of accesses its thread has in flight while the resource is live,
 *    and that number plus {@link BIAS} once the slot is closed (a revoke started, or its thread is
 *    detaching). In-flight counts stay far below `2^30`, so `count < 0` exactly when it is closed.
 * 3. A slot is in use (`SLOT_FLAGS & USED`) from the `attach` that claims it until the `detach` or
 *    `reclaim` that frees it; only used slots are biased and drained. Slots are claimed, freed,
 *    biased and reset only under the registration lock.
 * 4. `STATE` only moves forward: live → revoking (under the lock) → revoked (after the release,
 *    by the one thread that publishes the end). `DONE` leaves `PENDING` once, by a
 *    compare-and-swap, so exactly one outcome is ever published.
 *
 * @module
 */

/** Added to a slot's count when it closes; a count below zero means "grant nothing". */
export const BIAS = -0x4000_0000;

/** Bytes of the header, and of each slot: one cache line. */
export const LINE_BYTES = 64;
export const LINE_WORDS = LINE_BYTES / 4;
/** Bytes of the trailer holding a failed release's text (name, message, code as JSON). */
export const FAILURE_BYTES = 1024;

// Header words.
/** `LIVE`, `REVOKING` or `REVOKED`; also the address every kick waiter sleeps on. */
export const STATE = 0;
/** The registration lock: `0` free, else the holder's thread id plus one. */
export const LOCK = 1;
/** How many slots have ever been claimed: slots at and above it were never used. */
export const HIGH_WATER = 2;
/** Thread id of the thread whose revoke won, `-1` before. */
export const REVOKER = 3;
/** Thread id of the owner, the thread that created the resource and runs `release`. */
export const OWNER = 4;
/** `PENDING` until the owner has finished `release`; then `RELEASED` or `FAILED`. Waited on. */
export const DONE = 5;
/** When the winning revoke started: `Date.now()` as two words (low 32 bits, then the rest). */
export const STARTED_LOW = 6;
export const STARTED_HIGH = 7;
/** {@link MAGIC}: tells a real ref from any other buffer. */
export const MAGIC_WORD = 8;
/** {@link VERSION} of this layout. */
export const VERSION_WORD = 9;
/** How many slots the buffer has (`maxThreads`). */
export const MAX_THREADS = 10;
/** Header flags: {@link OWNER_GONE}. */
export const HEADER_FLAGS = 11;
/** Bytes of failure text in the trailer. */
export const FAILURE_LENGTH = 12;

export const LIVE = 0;
export const REVOKING = 1;
export const REVOKED = 2;

export const PENDING = 0;
export const RELEASED = 1;
export const FAILED = 2;
/** One thread is writing the outcome (see `end.ts`); read as pending. */
export const PUBLISHING = 3;

/** Header flag: the owner thread was reclaimed (it exited): nobody will run `release`. */
export const OWNER_GONE = 1;

// Slot words, relative to the slot's first word.
/** In-flight accesses of the slot's thread, plus {@link BIAS} once closed. */
export const SLOT_COUNT = 0;
/** Thread id of the slot's thread; `-1` when free. */
export const SLOT_THREAD = 1;
/** Bumped at every claim, so a stale object can tell its slot was reused. */
export const SLOT_GENERATION = 2;
/** {@link USED}, {@link DETACHING}. */
export const SLOT_FLAGS = 3;

export const USED = 1;
/** The slot's thread is detaching: it biased its own slot, so a revoke must not bias it again. */
export const DETACHING = 2;

/** "REVC" */
export const MAGIC = 0x5245_5643;
export const VERSION = 1;

/** The largest `maxThreads` accepted: a 256 KiB buffer. */
export const MAX_MAX_THREADS = 4096;

/** The first word of slot `index`. */
export const slotBase = (index: number): number => LINE_WORDS + index * LINE_WORDS;

/** Bytes of the buffer for `maxThreads` slots. */
export const bufferBytes = (maxThreads: number): number => LINE_BYTES + maxThreads * LINE_BYTES + FAILURE_BYTES;

/** Byte offset of the trailer. */
export const failureOffset = (maxThreads: number): number => LINE_BYTES + maxThreads * LINE_BYTES;
