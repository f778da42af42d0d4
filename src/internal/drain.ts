/**
 * The bound on a drain, shared by every gate (a provider's, a device node's): waits for `done`,
 * but rejects when `timeout` passes with users still inside. The timeout bounds the drain only:
 * once nobody is inside, the release is waited for in full.
 */
export function boundDrain<T>(done: Promise<T>, timeout: number, inside: () => number, timedOut: (inside: number) => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const count = inside();
      if (count > 0) reject(timedOut(count));
    }, timeout);
    done.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
