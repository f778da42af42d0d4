/**
 * `handle.proxy()`: a `Proxy` that stands for a revocable resource. Every operation on it runs
 * inside an access of the provider's gate (a method's returned promise holds the access until it
 * settles), so nothing the resource does on its behalf can outlive a revoke, and every operation
 * throws `RevokedError` after it.
 *
 * How it is built, for speed: the proxy has no `get` trap. Its target is a blank stand-in whose
 * prototype is a second proxy, the *miss* proxy, whose `get` trap looks the property up on the
 * resource. A property that holds a method is then cached on the stand-in as a wrapper, so the
 * next read of it is an own-property read the engine inlines (as it does for `Proxy.revocable`),
 * and the call runs through the gate. Every other read (data, getters) goes through the miss trap.
 *
 * Invariants:
 * 1. The stand-in never holds the resource: a `Proxy` keeps its target for life, and the resource
 *    must be collectable once revoked. Hence descriptors are reported configurable (a proxy may not
 *    report a non-configurable property its target lacks), and the stand-in has no own property of
 *    its own but the cached wrappers (configurable, so no invariant of the proxy binds them).
 * 2. The bare resource never leaves through the proxy: wherever a value comes out (a property or
 *    getter, a method's result, sync or resolved, a property descriptor's `value`), the resource
 *    itself comes out as the proxy (the fluent-`this` rule).
 * 3. With `deep`, the proxy is a membrane: every object and function that comes out is wrapped
 *    under the same gate (one wrapper per object, so identity holds), and wrappers going back in as
 *    arguments are unwrapped. A statement prepared by a revoked database throws `RevokedError`.
 * 4. A cached method wrapper calls the method the property held when it was first read. Writing,
 *    defining or deleting the property through the proxy (or setting the prototype) drops the
 *    wrapper, so the next read finds what is there then; a refused call drops them all. A method the
 *    resource replaces on itself, not through the proxy, is seen once its wrapper was dropped.
 * 5. After revoke, or after the handle is closed, every operation throws `RevokedError`; a method
 *    read before (or cached) is a function that throws `RevokedError` when called.
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
  /** Takes an access and returns the resource; `undefined` (nothing taken) once revoked or closed. */
  enter(): object | undefined;
  /** The `RevokedError` a refused `enter` stands for. */
  refusal(): Error;
  /** Ends the access `enter` took. */
  exit(): void;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const isObject = (value: unknown): value is object => value !== null && (typeof value === 'object' || typeof value === 'function');

/** Whether `key` of `target` (own or inherited) is a data property: a method, not a getter that returns one. */
function isDataProperty(target: object, key: PropertyKey): boolean {
  for (let object: object | null = target; object !== null; object = Reflect.getPrototypeOf(object)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(object, key);
    if (descriptor !== undefined) return 'value' in descriptor;
  }
  return false;
}

/** A blank stand-in: a plain object, or a callable and constructible one with no own property. */
function standIn(callable: boolean): object {
  if (!callable) return {};
  // A bound function has no `prototype` of its own (an ordinary function's is non-configurable,
  // which the proxy would have to report); its `name` and `length` are configurable and removed.
  const stand = function () {}.bind(null);
  Reflect.deleteProperty(stand, 'name');
  Reflect.deleteProperty(stand, 'length');
  return stand;
}

export function createProxy<T>(gate: ProxyGate, callable: boolean, deep: boolean): T {
  /** With `deep`: each object handed out, to its wrapper (the resource itself to the root proxy). */
  const wrappers = deep ? new WeakMap<object, object>() : undefined;
  /** With `deep`: each wrapper to what it wraps, to unwrap arguments. */
  const wrapped = deep ? new WeakMap<object, object>() : undefined;

  /** The membrane's door for one object: `real()` checks the gate and returns the object. */
  const make = (real: () => object, enter: () => object | undefined, isCallable: boolean): object => {
    const stand = standIn(isCallable);
    /** Keys whose method wrapper is cached on the stand-in (invariant 4). */
    const cached = new Set<PropertyKey>();
    /** Each function's wrapper, made once (so a method read twice is the same function). */
    const methods = new WeakMap<AnyFunction, AnyFunction>();

    // Assigned once, below: the traps need the proxy they belong to.
    // eslint-disable-next-line prefer-const
    let self: object;

    /** What comes out of an operation on `target` (invariants 2 and 3). */
    const out = (value: unknown, target: object): unknown => {
      if (value === target) return self;
      if (wrappers === undefined || !isObject(value)) return value;
      return wrapOut(value);
    };

    /** Drops one cached wrapper, or all of them (invariant 4). */
    const forget = (key?: PropertyKey): void => {
      if (key === undefined) {
        for (const k of cached) Reflect.deleteProperty(stand, k);
        cached.clear();
      } else if (cached.delete(key)) Reflect.deleteProperty(stand, key);
    };

    /** Takes an access; a refusal (revoked, or the handle closed) drops the cached wrappers and throws. */
    const enterOrForget = (): object => {
      const target = enter();
      if (target !== undefined) return target;
      forget();
      throw gate.refusal();
    };

    /** Ends the access when `result` settles. Throws only before it has arranged that (then the caller ends it). */
    const hold = (target: object, result: PromiseLike<unknown>): Promise<unknown> =>
      Promise.resolve(result).then(
        (value) => {
          gate.exit();
          return out(value, target);
        },
        (error: unknown) => {
          gate.exit();
          throw error;
        },
      );

    /** `fn.apply(thisArg ?? resource, args)` inside an access. */
    const call = (fn: AnyFunction, thisArg: unknown, args: ArrayLike<unknown>): unknown => {
      const target = enterOrForget();
      let result: unknown;
      try {
        result = Reflect.apply(fn, thisArg === undefined ? target : thisArg, wrapped === undefined ? args : unwrapAll(args));
        // The thenable check is part of the call: a `then` getter that throws is the call failing.
        if (isThenable(result)) return hold(target, result);
      } catch (error) {
        gate.exit();
        throw error;
      }
      gate.exit();
      return out(result, target);
    };

    /** The wrapper of a method: `fn` called on the object (never on the proxy), inside an access. */
    const method = (fn: AnyFunction): AnyFunction => {
      let wrapper = methods.get(fn);
      if (wrapper === undefined) {
        wrapper = function (this: unknown) {
          // eslint-disable-next-line prefer-rest-params -- no array allocated per call
          return call(fn, undefined, arguments);
        };
        Object.defineProperty(wrapper, 'name', { value: fn.name });
        methods.set(fn, wrapper);
      }
      return wrapper;
    };

    /** Any other operation: inside an access too, since it may run the object's own code (a getter, a trap). */
    const within = <R>(operation: (target: object) => R): R => {
      const target = enterOrForget();
      try {
        return operation(target);
      } finally {
        gate.exit();
      }
    };

    // The miss proxy: the stand-in's prototype, so every read the stand-in cannot answer lands here.
    const miss = new Proxy(
      {},
      {
        get: (_t, key) =>
          within((target) => {
            const value: unknown = Reflect.get(target, key, target);
            if (typeof value !== 'function') return out(value, target);
            const wrapper = method(value as AnyFunction);
            if (!isDataProperty(target, key)) return wrapper; // a getter's result: asked again each time
            Object.defineProperty(stand, key, { value: wrapper, writable: true, enumerable: false, configurable: true });
            cached.add(key);
            return wrapper;
          }),
      },
    );
    Reflect.setPrototypeOf(stand, miss);

    const handler: ProxyHandler<object> = {
      set: (_stand, key, value) => {
        forget(key);
        return within((target) => Reflect.set(target, key, unwrap(value), target));
      },
      has: (_stand, key) => within((target) => Reflect.has(target, key)),
      deleteProperty: (_stand, key) => {
        forget(key);
        return within((target) => Reflect.deleteProperty(target, key));
      },
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
      defineProperty: (_stand, key, descriptor) => {
        forget(key);
        return within((target) => Reflect.defineProperty(target, key, descriptor));
      },
      getPrototypeOf: () => within((target) => Reflect.getPrototypeOf(target)),
      setPrototypeOf: (_stand, prototype) => {
        forget();
        return within((target) => Reflect.setPrototypeOf(target, prototype));
      },
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
    self = new Proxy(stand, handler);
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
    const enter = (): object | undefined => (gate.enter() === undefined ? undefined : value);
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
