/**
 * `handle.proxy()`: a `Proxy` that stands for a revocable resource. Every operation on it runs
 * inside an access of the provider's gate (a method's returned promise holds the access until it
 * settles), so nothing the resource does on its behalf can outlive a revoke, and every operation
 * throws `RevokedError` after it.
 *
 * Invariants:
 * 1. The proxy's target is a blank stand-in, never the resource: a `Proxy` keeps its target for
 *    life, and the resource must be collectable once revoked. Hence descriptors are reported
 *    configurable (a proxy may not report a non-configurable property its target lacks).
 * 2. The bare resource never leaves through the proxy: wherever a value comes out (a property or
 *    getter, a method's result, sync or resolved, a property descriptor's `value`), the resource
 *    itself comes out as the proxy (the fluent-`this` rule).
 * 3. With `deep`, the proxy is a membrane: every object and function that comes out is wrapped
 *    under the same gate (one wrapper per object, so identity holds), and wrappers going back in as
 *    arguments are unwrapped. A statement prepared by a revoked database throws `RevokedError`.
 * 4. Method wrappers are cached per function in a `WeakMap` (with the last one at hand, so a hot
 *    call site costs no lookup), and the cache never keeps a function alive.
 * 5. After revoke, or after the handle is closed, every operation throws `RevokedError`.
 *
 * @module
 */
import { isThenable } from './promise.js';

/** Options of `handle.proxy()`. */
export interface ProxyOptions {
  /**
   * Wrap every object and function the resource hands out (what its methods return, what its
   * properties hold) under the same gate, so that none of them keeps working after the revoke: a
   * membrane. Default: `false` (only the resource itself is guarded).
   */
  deep?: boolean;
}

/** What the proxy may do with the provider behind it; `peek` and `enter` throw `RevokedError` once revoked. */
export interface ProxyGate {
  /** The resource, checking that it is still there; no access is taken. */
  peek(): object;
  /** Takes an access and returns the resource. */
  enter(): object;
  /** Ends the access `enter` took. */
  exit(): void;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const isObject = (value: unknown): value is object => value !== null && (typeof value === 'object' || typeof value === 'function');

export function createProxy<T>(gate: ProxyGate, callable: boolean, deep: boolean): T {
  /** With `deep`: each object handed out, to its wrapper (the resource itself to the root proxy). */
  const wrappers = deep ? new WeakMap<object, object>() : undefined;
  /** With `deep`: each wrapper to what it wraps, to unwrap arguments. */
  const wrapped = deep ? new WeakMap<object, object>() : undefined;

  /** The membrane's door for one object: `real()` checks the gate and returns the object. */
  const make = (real: () => object, enter: () => object, isCallable: boolean): object => {
    // Assigned once, below: the handler's traps need the proxy they belong to.
    // eslint-disable-next-line prefer-const
    let self: object;
    const methods = new WeakMap<AnyFunction, AnyFunction>();
    let lastFn: AnyFunction | undefined;
    let lastMethod: AnyFunction | undefined;

    /** What comes out of an operation on `target` (invariants 2 and 3). */
    const out = (value: unknown, target: object): unknown => {
      if (value === target) return self;
      if (wrappers === undefined || !isObject(value)) return value;
      return wrapOut(value);
    };

    /** `fn.apply(thisArg, args)` inside an access; a thenable result holds the access until it settles. */
    const call = (fn: AnyFunction, thisArg: unknown, args: ArrayLike<unknown>): unknown => {
      const target = enter();
      let result: unknown;
      try {
        result = Reflect.apply(fn, thisArg === undefined ? target : thisArg, wrapped === undefined ? args : unwrapAll(args));
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            (value) => {
              gate.exit();
              return out(value, target);
            },
            (error: unknown) => {
              gate.exit();
              throw error;
            },
          );
        }
      } catch (error) {
        gate.exit();
        throw error;
      }
      gate.exit();
      return out(result, target);
    };

    /** A method read from the object: called on the object (never on the proxy), inside an access. */
    const method = (fn: AnyFunction): AnyFunction => {
      if (fn === lastFn) return lastMethod as AnyFunction;
      let wrapper = methods.get(fn);
      if (wrapper === undefined) {
        wrapper = function (this: unknown) {
          // eslint-disable-next-line prefer-rest-params -- no array allocated per call
          return call(fn, undefined, arguments);
        };
        Object.defineProperty(wrapper, 'name', { value: fn.name });
        methods.set(fn, wrapper);
      }
      lastFn = fn;
      lastMethod = wrapper;
      return wrapper;
    };

    /** Any other operation: inside an access too, since it may run the object's own code (a getter, a trap). */
    const within = <R>(operation: (target: object) => R): R => {
      const target = enter();
      try {
        return operation(target);
      } finally {
        gate.exit();
      }
    };

    const handler: ProxyHandler<object> = {
      get(_stand, key) {
        const target = enter();
        let value: unknown;
        try {
          value = Reflect.get(target, key, target);
        } finally {
          gate.exit();
        }
        if (typeof value === 'function') return method(value as AnyFunction);
        return out(value, target);
      },
      set: (_stand, key, value) => within((target) => Reflect.set(target, key, unwrap(value), target)),
      has: (_stand, key) => within((target) => Reflect.has(target, key)),
      deleteProperty: (_stand, key) => within((target) => Reflect.deleteProperty(target, key)),
      ownKeys: () => within((target) => Reflect.ownKeys(target)),
      getOwnPropertyDescriptor: (_stand, key) =>
        within((target) => {
          const descriptor = Reflect.getOwnPropertyDescriptor(target, key);
          if (descriptor === undefined) return undefined;
          descriptor.configurable = true;
          if ('value' in descriptor) {
            descriptor.value = typeof descriptor.value === 'function' ? method(descriptor.value as AnyFunction) : out(descriptor.value, target);
          } else {
            if (descriptor.get !== undefined) descriptor.get = method(descriptor.get as AnyFunction);
            if (descriptor.set !== undefined) descriptor.set = method(descriptor.set as AnyFunction);
          }
          return descriptor;
        }),
      defineProperty: (_stand, key, descriptor) => within((target) => Reflect.defineProperty(target, key, descriptor)),
      getPrototypeOf: () => within((target) => Reflect.getPrototypeOf(target)),
      setPrototypeOf: (_stand, prototype) => within((target) => Reflect.setPrototypeOf(target, prototype)),
      isExtensible: () => {
        real();
        return true;
      },
      preventExtensions: () => {
        real();
        return false;
      },
      apply: (_stand, thisArg, args: unknown[]) => {
        const fn = real() as AnyFunction;
        // The root resource is called as itself would be; a function handed out keeps its `this`.
        return call(fn, isCallable && self !== root ? unwrap(thisArg) ?? null : null, args);
      },
      construct: (_stand, args: unknown[], newTarget) =>
        within((target) => {
          const made = Reflect.construct(target as new (...a: unknown[]) => object, wrapped === undefined ? args : unwrapAll(args), (newTarget === self ? target : newTarget) as new (...a: unknown[]) => object);
          return out(made, target) as object;
        }),
    };
    self = new Proxy(isCallable ? function () {} : {}, handler);
    return self;
  };

  /** With `deep`: the wrapper of an object handed out, made once per object. */
  const wrapOut = (value: object): object => {
    const known = (wrappers as WeakMap<object, object>).get(value);
    if (known !== undefined) return known;
    if ((wrapped as WeakMap<object, object>).has(value)) return value; // one of ours already
    const real = (): object => {
      gate.peek();
      return value;
    };
    const enter = (): object => {
      gate.enter();
      return value;
    };
    const wrapper = make(real, enter, typeof value === 'function');
    (wrappers as WeakMap<object, object>).set(value, wrapper);
    (wrapped as WeakMap<object, object>).set(wrapper, value);
    return wrapper;
  };

  /** A wrapper going back in becomes what it wraps; the root proxy becomes the resource. */
  const unwrap = (value: unknown): unknown => {
    if (wrapped === undefined || !isObject(value)) return value;
    if (value === root) return gate.peek();
    return wrapped.get(value) ?? value;
  };
  const unwrapAll = (args: ArrayLike<unknown>): unknown[] => Array.prototype.map.call(args, unwrap) as unknown[];

  const root: object = make(gate.peek, gate.enter, callable);
  if (wrappers !== undefined) wrappers.set(gate.peek(), root);
  return root as T;
}
