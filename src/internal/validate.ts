/**
 * Argument checks for untyped JavaScript callers. Every public function runs these before it
 * changes any state, so a bad call throws and leaves the object as it was. Messages have one shape:
 * ``Expected `timeout` to be a finite number >= 0, got `-1` (number)``.
 *
 * Invariants:
 * 1. Building a message never throws and never runs code of the caller's: no getter, no `Proxy`
 *    trap, no `toString`, no `Symbol.toStringTag` is reached. A hostile value (a revoked proxy, an
 *    object whose every property throws) gets the TypeError it deserves, not another error.
 * 2. A duration is a number of milliseconds that a timer can honour: `0` to `2^31 - 1`, or
 *    `Infinity` where "no limit" makes sense. Larger finite values are refused, because every
 *    runtime's `setTimeout` clamps them to 1 ms: a 30-day timeout would fire at once.
 *
 * @module
 */

/** The largest delay `setTimeout` honours (2^31 - 1 ms, about 24.8 days); above it, timers fire at once. */
export const MAX_DELAY = 0x7fff_ffff;

/** `Array.isArray`, which throws on a revoked `Proxy`: `'revoked'` then. Runs no trap. */
function arrayKind(value: object): boolean | 'revoked' {
  try {
    return Array.isArray(value);
  } catch {
    return 'revoked';
  }
}

/** Renders a value for an error message: its short text and its type (invariant 1). */
export function show(value: unknown): string {
  let text: string;
  let type: string = value === null ? 'null' : typeof value;
  if (typeof value === 'string') text = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  else if (typeof value === 'symbol') text = String(value);
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (value === null || (typeof value !== 'object' && typeof value !== 'function')) text = String(value);
  else {
    // A function's `name` and an object's `constructor` may be getters or proxy traps: not read.
    const kind = arrayKind(value);
    if (kind === 'revoked') [text, type] = ['revoked Proxy', typeof value];
    else if (kind) [text, type] = ['array', 'array'];
    else text = typeof value === 'function' ? 'function' : '[object]';
  }
  return `\`${text}\` (${type})`;
}

export function expected(what: string, name: string, value: unknown): TypeError {
  return new TypeError(`Expected \`${name}\` to be ${what}, got ${show(value)}`);
}

export function checkFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw expected('a function', name, value);
}

export function checkOptionalFunction(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') throw expected('a function or undefined', name, value);
}

export function checkOptionalString(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'string') throw expected('a string or undefined', name, value);
}

export function checkString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw expected('a non-empty string', name, value);
}

/** Whether `value` is an object argument: not null, not a primitive, not an array, not a revoked proxy. Runs no trap. */
export function isObjectArgument(value: unknown): value is object {
  return value !== null && typeof value === 'object' && arrayKind(value) === false;
}

/**
 * Options bags: `undefined` or an object (not null, not an array, not a primitive, not a revoked
 * proxy). Callers read each option once, into a local, after this check.
 */
export function checkOptions(value: unknown, name = 'options'): void {
  if (value === undefined) return;
  if (!isObjectArgument(value)) throw expected('an object or undefined', name, value);
}

/**
 * A duration in milliseconds: `0` to {@link MAX_DELAY}, or `Infinity` meaning "no limit" (invariant
 * 2). Returns it, or `def` when `undefined`.
 */
export function checkDuration(value: unknown, name: string, def: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw expected('a number of milliseconds', name, value);
  if (Number.isNaN(value) || value < 0 || (value > MAX_DELAY && value !== Infinity)) {
    throw new RangeError(`Expected \`${name}\` to be a number of milliseconds from 0 to ${MAX_DELAY}, or Infinity, got ${show(value)}`);
  }
  return value;
}

/** A timer delay for `setTimeout`/`setInterval`: a finite number from 0 to {@link MAX_DELAY}. */
export function checkDelay(value: unknown, name: string): number {
  if (typeof value !== 'number') throw expected('a number of milliseconds', name, value);
  if (!Number.isFinite(value) || value < 0 || value > MAX_DELAY) {
    throw new RangeError(`Expected \`${name}\` to be a finite number of milliseconds from 0 to ${MAX_DELAY}, got ${show(value)}`);
  }
  return value;
}

/** A value that a resource can be: anything but `null` and `undefined`. */
export function checkResource(value: unknown, name: string): void {
  if (value === null || value === undefined) throw expected('a resource (any value but null or undefined)', name, value);
}
