/**
 * Unplug while a consumer is mid-operation: the revoke kicks the consumer (its signal aborts),
 * waits for it to finish, and only then closes the port. Run: `node --import tsx examples/unplug.ts`.
 */
import { Revocable } from 'revocable';

const log = (line: string): void => console.log(`${String(performance.now().toFixed(0)).padStart(5)} ms  ${line}`);

/** Stands for a serial port: a write takes a while, and can be cut short by a signal. */
class SerialPort {
  open = true;
  constructor(readonly path: string) {}

  write(data: string, signal: AbortSignal): Promise<number> {
    if (!this.open) throw new Error(`${this.path} is closed: use after close`);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        log(`consumer: write kicked by the revoke (${(signal.reason as Error).message}), wrapping up`);
        resolve(0);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(data.length);
      }, 200);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.open = false;
    log(`driver:   ${this.path} closed`);
  }
}

const provider = new Revocable(new SerialPort('/dev/ttyUSB0'), {
  name: 'ttyUSB0',
  release: (port) => port.close(),
});
const handle = provider.handle();

async function consumer(): Promise<void> {
  for (let i = 1; ; i++) {
    const written = await handle.tryWith(async (port, signal) => {
      log(`consumer: write #${i} starts`);
      const n = await port.write(`message ${i}`, signal);
      // Still inside the access: the port cannot be closed under us, even though the revoke began.
      await new Promise((resolve) => setTimeout(resolve, 50));
      log(`consumer: write #${i} done (${n} bytes), port still open: ${port.open}`);
      return n;
    });
    if (written === undefined) {
      log('consumer: the port is gone (tryWith returned undefined); stopping');
      return;
    }
  }
}

const consuming = consumer();
await new Promise((resolve) => setTimeout(resolve, 300));
log('driver:   device unplugged, revoking');
const revoking = provider.revoke();
log(`driver:   revoke started; state is '${provider.state}', ${provider.accesses} access in flight`);
await revoking;
log(`driver:   revoke resolved; state is '${provider.state}'`);
await consuming;
