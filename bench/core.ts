/**
 * The read side and the revoke of the core, against the floor (a bare call, an inline counter) and
 * against what JavaScript has built in (`Proxy.revocable`).
 */
import { Revocable } from '../src/index.js';
import { collect, consume, heapBytesPer, median, printTable, ratio, timeNs, type Row } from './harness.js';

/** A read does the least real work a read does: it touches the resource's state. */
class Sensor {
  value = 1;
  reads = 0;
  read(): number {
    this.reads++;
    return this.value;
  }
  /** Reads only: through `Proxy.revocable`, `this.value` costs one more trap-less proxy get. */
  peek(): number {
    return this.value;
  }
  /** Hands out an object of its own: what a deep proxy wraps. */
  channel(): Channel {
    return this.#channel;
  }
  readonly #channel = new Channel();
}

/** What a sensor hands out (a prepared statement, a cursor): reached through a deep proxy's wrapper. */
class Channel {
  value = 2;
  peek(): number {
    return this.value;
  }
}

const N = 2_000_000;
const read = (sensor: Sensor): number => sensor.read();

export async function run(): Promise<void> {
  const sensor = new Sensor();
  const provider = new Revocable(sensor);
  const handle = provider.handle();

  const bare = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += sensor.read();
    consume(sum);
  }, N);

  // The floor: what any gate must do at least, a state check and a counter around the call.
  const gate = { count: 0, resource: sensor as Sensor | undefined };
  const inline = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      if (gate.count < 0) continue;
      gate.count++;
      sum += (gate.resource as Sensor).read();
      if (--gate.count === -0x40000000) consume(gate);
    }
    consume(sum);
  }, N);

  const tryWithHandle = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += handle.tryWith(read) ?? 0;
    consume(sum);
  }, N);

  const tryWithProvider = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += provider.tryWith(read) ?? 0;
    consume(sum);
  }, N);

  const tryAccess = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) {
      const access = handle.tryAccess();
      if (access === null) continue;
      sum += access.value.read();
      access.release();
    }
    consume(sum);
  }, N);

  const proxy = handle.proxy();
  const ours = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += proxy.read();
    consume(sum);
  }, N);

  const native = Proxy.revocable(sensor, {}).proxy;
  const theirs = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += native.read();
    consume(sum);
  }, N);

  // Each round revokes a fresh provider that has `handles` live handles; a full GC before each round
  // keeps the collector's work on a million handles out of the revoke's time.
  const oursPeek = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += proxy.peek();
    consume(sum);
  }, N);
  const theirsPeek = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += native.peek();
    consume(sum);
  }, N);

  // A deep proxy: the root's calls cost what a shallow proxy's do; an object it handed out is
  // reached through a wrapper of its own, under the same gate.
  const deep = provider.handle().proxy({ deep: true });
  const oursDeep = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += deep.peek();
    consume(sum);
  }, N);
  const channel = deep.channel();
  const oursWrapped = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += channel.peek();
    consume(sum);
  }, N);
  const bareChannel = sensor.channel();
  const bareWrapped = timeNs(() => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += bareChannel.peek();
    consume(sum);
  }, N);

  const revokeWith = async (handles: number, rounds: number): Promise<number> => {
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const p = new Revocable(new Sensor(), { release: () => {} });
      const kept = Array.from({ length: handles }, () => p.handle());
      collect();
      const start = process.hrtime.bigint();
      await p.revoke();
      times.push(Number(process.hrtime.bigint() - start));
      consume(kept);
    }
    return median(times);
  };
  const revokeOne = await revokeWith(1, 15);
  const revokeMillion = await revokeWith(1_000_000, 7);

  const perHandle = heapBytesPer((count) => Array.from({ length: count }, () => provider.handle()), 200_000);
  const perProvider = heapBytesPer((count) => Array.from({ length: count }, () => new Revocable(sensor)), 100_000);

  const rows: Row[] = [
    { name: 'bare method call', value: bare, unit: 'ns' },
    { name: 'inline counter enter/exit (the floor)', value: inline, unit: 'ns', note: ratio(inline, bare) + ' of bare' },
    { name: 'handle.tryWith, sync', value: tryWithHandle, unit: 'ns', note: `${ratio(tryWithHandle, bare, 3)} of bare; ${ratio(tryWithHandle, inline, 1.5)} of the floor` },
    { name: 'provider.tryWith, sync', value: tryWithProvider, unit: 'ns', note: `${ratio(tryWithProvider, bare, 3)} of bare; ${ratio(tryWithProvider, inline, 1.5)} of the floor` },
    { name: 'handle.tryAccess + release', value: tryAccess, unit: 'ns', note: ratio(tryAccess, bare) + ' of bare' },
    { name: 'proxy() method call', value: ours, unit: 'ns', note: `${ratio(ours, theirs, 1.5)} of Proxy.revocable` },
    { name: 'Proxy.revocable method call', value: theirs, unit: 'ns', note: 'its `this` is the proxy: `this.reads++` goes through it twice' },
    { name: 'proxy() read-only method call', value: oursPeek, unit: 'ns', note: `${ratio(oursPeek, theirsPeek, 1.5)} of Proxy.revocable` },
    { name: 'Proxy.revocable read-only method call', value: theirsPeek, unit: 'ns' },
    { name: 'proxy({ deep: true }) read-only method call', value: oursDeep, unit: 'ns', note: `${ratio(oursDeep, oursPeek)} of a shallow proxy's` },
    { name: 'call through a deep wrapper (an object handed out)', value: oursWrapped, unit: 'ns', note: `${ratio(oursWrapped, bareWrapped)} of calling the object directly; ${ratio(oursWrapped, theirsPeek)} of Proxy.revocable` },
    { name: 'revoke, 1 live handle', value: revokeOne, unit: 'ns' },
    { name: 'revoke, 1,000,000 live handles', value: revokeMillion, unit: 'ns', note: `${ratio(revokeMillion, revokeOne, 2)} of revoke with 1` },
    { name: 'heap per handle', value: perHandle, unit: 'bytes', note: perHandle <= 64 ? 'target <= 64: met' : 'target <= 64: NOT met' },
    { name: 'heap per provider (no access yet)', value: perProvider, unit: 'bytes' },
  ];
  printTable('Core: read side and revoke', rows);
}
