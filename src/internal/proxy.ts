/**
 * `handle.proxy()`: a `Proxy` that stands for a revocable resource. Method calls run inside an
 * access (a returned promise holds it until it settles); other operations look at the resource
 * synchronously, which needs no access since nothing can release it in between.
 *
 * Invariants:
 * 1. The proxy's target is a blank stand-in, never the resource: a `Proxy` keeps its target for
 *    life, and the resource must be collectable once revoked. Hence descriptors are reported
 *    configurable (a proxy may not report a non-configurable property its target lacks).
 * 2. Method wrappers are cached per function in a `WeakMap`, so a method read costs no allocation
 *    and the cache never keeps a function (or what it closes over) alive.
 * 3. After revoke, or after the handle is closed, every operation throws `RevokedError`.
 */

/** What the proxy may do with the provider behind it; each throws `RevokedError` once revoked. */
export interface ProxyGate<T> {
  /** The resource, for a synchronous operation. */
  peek(): T;
  /** `fn.apply(resource, args)` inside an access; a result that is the resource becomes `proxy`. */
  apply(fn: (...args: unknown[]) => unknown, args: ArrayLike<unknown>, proxy: unknown): unknown;
}

type AnyFunction = (...args: unknown[]) => unknown;

export function createProxy<T>(gate: ProxyGate<T>, callable: boolean): T {
  const wrappers = new WeakMap<AnyFunction, AnyFunction>();
  const wrap = (fn: AnyFunction): AnyFunction => {
    let wrapper = wrappers.get(fn);
    if (wrapper === undefined) {
      wrapper = function (this: unknown) {
        // eslint-disable-next-line prefer-rest-params -- no array allocated per call
        return gate.apply(fn, arguments, proxy);
      };
      Object.defineProperty(wrapper, 'name', { value: fn.name });
      wrappers.set(fn, wrapper);
    }
    return wrapper;
  };
  const peek = (): object => gate.peek() as object;
  const handler: ProxyHandler<object> = {
    get(_target, key) {
      const resource = peek();
      const value: unknown = Reflect.get(resource, key, resource);
      return typeof value === 'function' ? wrap(value as AnyFunction) : value;
    },
    set(_target, key, value) {
      const resource = peek();
      return Reflect.set(resource, key, value, resource);
    },
    has: (_target, key) => Reflect.has(peek(), key),
    deleteProperty: (_target, key) => Reflect.deleteProperty(peek(), key),
    ownKeys: () => Reflect.ownKeys(peek()),
    getOwnPropertyDescriptor(_target, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(peek(), key);
      if (descriptor !== undefined) descriptor.configurable = true;
      return descriptor;
    },
    defineProperty: (_target, key, descriptor) => Reflect.defineProperty(peek(), key, descriptor),
    getPrototypeOf: () => Reflect.getPrototypeOf(peek()),
    setPrototypeOf: (_target, prototype) => Reflect.setPrototypeOf(peek(), prototype),
    isExtensible: () => {
      peek();
      return true;
    },
    preventExtensions: () => {
      peek();
      return false;
    },
    apply: (_target, _this, args: unknown[]) => gate.apply(peek() as AnyFunction, args, proxy),
    construct: (_target, args: unknown[], newTarget) => {
      const resource = peek() as new (...args: unknown[]) => object;
      return Reflect.construct(resource, args, newTarget === proxy ? resource : newTarget);
    },
  };
  const target = callable ? function () {} : {};
  const proxy: unknown = new Proxy(target, handler);
  return proxy as T;
}
