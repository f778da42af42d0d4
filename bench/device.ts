/**
 * revoke(2) and the file-operation gate of `revocable/device`: a revoke of many open files against
 * calling their `release` directly, and `OpenFile.read` through the gate against calling the
 * driver's `read` directly.
 */
import { DevFs, type DeviceFile, type FileOperations, type OpenFile } from '../src/device/index.js';
import { collect, consume, median, printTable, ratio, timeNsAsync, type Row } from './harness.js';

const FILES = 100_000;
const READS = 200_000;
const ROUNDS = 15;

export async function run(): Promise<void> {
  // revoke(2) of 100,000 open files: every file's release runs once, after the (empty) drain. The
  // release reads the per-open slot, as real ones do, so both sides touch every file object.
  let released = 0;
  let driverFiles: DeviceFile[] = [];
  const operations: FileOperations = {
    open: (file) => {
      file.private = 1;
      driverFiles.push(file);
    },
    release: (file) => void (released += file.private as number),
  };
  const release = operations.release as (file: DeviceFile) => void;
  const revokeTimes: number[] = [];
  const directTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const devfs = new DevFs();
    devfs.create('/dev/tty', operations);
    driverFiles = [];
    const files: OpenFile[] = [];
    for (let i = 0; i < FILES; i++) files.push(await devfs.open('/dev/tty'));
    // The floor first: the same releases called directly on the same driver-side files.
    collect();
    let start = process.hrtime.bigint();
    for (let i = 0; i < driverFiles.length; i++) release.call(operations, driverFiles[i] as DeviceFile);
    directTimes.push(Number(process.hrtime.bigint() - start) / FILES);
    collect();
    start = process.hrtime.bigint();
    await devfs.revoke('/dev/tty');
    revokeTimes.push(Number(process.hrtime.bigint() - start) / FILES);
    consume(files);
  }
  if (released !== FILES * ROUNDS * 2) throw new Error(`expected ${FILES * ROUNDS * 2} releases, got ${released}`);
  const revoke = median(revokeTimes);
  const direct = median(directTimes);

  // A read through the gate, awaited one after another, against the driver's read awaited directly.
  const devfs = new DevFs();
  const syncRead: FileOperations = { read: (_file, length) => length };
  const asyncRead: FileOperations = { read: async (_file, length) => length };
  devfs.create('/dev/sync', syncRead);
  devfs.create('/dev/async', asyncRead);
  const syncFile = await devfs.open('/dev/sync');
  const asyncFile = await devfs.open('/dev/async');
  const driverFile = { private: undefined } as unknown as DeviceFile;
  const readSync = syncRead.read as (file: DeviceFile, length: number) => number;
  const readAsync = asyncRead.read as (file: DeviceFile, length: number) => Promise<number>;

  const gateSync = await timeNsAsync(async () => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum += (await syncFile.read(1)) as number;
    consume(sum);
  }, READS);
  const directSync = await timeNsAsync(async () => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum += await Promise.resolve(readSync.call(syncRead, driverFile, 1));
    consume(sum);
  }, READS);
  const gateAsync = await timeNsAsync(async () => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum += (await asyncFile.read(1)) as number;
    consume(sum);
  }, READS);
  const directAsync = await timeNsAsync(async () => {
    let sum = 0;
    for (let i = 0; i < READS; i++) sum += await readAsync.call(asyncRead, driverFile, 1);
    consume(sum);
  }, READS);
  await syncFile.close();
  await asyncFile.close();

  // What an open file costs while open: the user's OpenFile and the driver's file object.
  const memory = new DevFs();
  memory.create('/dev/m', {});
  collect();
  const before = process.memoryUsage().heapUsed;
  const opened = await Promise.all(Array.from({ length: 50_000 }, () => memory.open('/dev/m')));
  collect();
  const perFile = (process.memoryUsage().heapUsed - before) / opened.length;
  consume(opened);
  await memory.revoke('/dev/m');

  const rows: Row[] = [
    { name: `devfs.revoke, ${FILES.toLocaleString('en')} open files, per file`, value: revoke, unit: 'ns', note: `${ratio(revoke, direct, 10)} of calling release directly` },
    { name: 'calling each release directly, per file', value: direct, unit: 'ns' },
    { name: 'OpenFile.read, sync driver read, awaited', value: gateSync, unit: 'ns', note: `${ratio(gateSync, directSync)} of the direct call` },
    { name: 'driver read called directly, awaited', value: directSync, unit: 'ns' },
    { name: 'OpenFile.read, async driver read, awaited', value: gateAsync, unit: 'ns', note: `${ratio(gateAsync, directAsync)} of the direct call` },
    { name: 'async driver read called directly, awaited', value: directAsync, unit: 'ns' },
    { name: 'heap per open file (no driver open)', value: perFile, unit: 'bytes' },
  ];
  printTable('Device: revoke(2) and the file-operation gate', rows);
}
