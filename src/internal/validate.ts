/**
 * Argument checks for untyped JavaScript callers. Every public function runs these before it
 * changes any state, so a bad call throws and leaves the object as it was. Messages have one shape:
 * ``Expected `timeout` to be a finite number >= 0, got `-1` (number)``.
 */

/** Renders a value for an error message: its short text and its type. */
export function show(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  else if (typeof value === 'function') text = value.name === '' ? 'function' : `function ${value.name}`;
  else if (typeof value === 'symbol') text = value.toString();
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (value === null || typeof value !== 'object') text = String(value);
  else if (Array.isArray(value)) text = `array(${value.length})`;
  else text = value.constructor?.name ? `[object ${value.constructor.name}]` : '[object]';
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
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

/** Options bags: `undefined` or a plain object (not null, not an array, not a primitive). */
export function checkOptions(value: unknown, name = 'options'): void {
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw expected('an object or undefined', name, value);
  }
}

/** A duration in milliseconds: a number >= 0, `Infinity` meaning "no limit". Returns it, or `def`. */
export function checkDuration(value: unknown, name: string, def: number): number {
  if (value === undefined) return def;
  if (typeof value !== 'number') throw expected('a number >= 0 (milliseconds)', name, value);
  if (Number.isNaN(value) || value < 0) {
    throw new RangeError(`Expected \`${name}\` to be a number >= 0 (milliseconds), got ${show(value)}`);
  }
  return value;
}

/** A value that a resource can be: anything but `null` and `undefined`. */
export function checkResource(value: unknown, name: string): void {
  if (value === null || value === undefined) throw expected('a resource (any value but null or undefined)', name, value);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
