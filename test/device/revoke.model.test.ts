/**
 * Model-based test of revoke(2) on one device node: fast-check's scheduler interleaves opens
 * (some with an async driver `open`), reads that wait (some honouring the kick, some ignoring it),
 * writes, closes, revokes (some bounded by a timeout), hang-ups from inside an operation and
 * releases that take an `await`. After every step: no operation reaches the driver for a file whose
 * release began, no file is released twice, and a revoke that resolved left none of the files it
 * covered open or busy. At the end every file whose open succeeded was released exactly once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DrainTimeoutError } from '../../src/index.js';
import { DeviceError, DevFs, type DeviceFile, type OpenFile } from '../../src/device/index.js';
import '../support/leaks.js';
import { checkEveryStep, checkedScheduler as scheduler, runs } from '../support/model.js';

type Action =
  | { type: 'open' }
  | { type: 'read'; file: number; honours: boolean }
  | { type: 'write'; file: number }
  | { type: 'close'; file: number }
  | { type: 'revoke'; bounded: boolean }
  | { type: 'hangup'; file: number };

const file = fc.nat({ max: 5 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant({ type: 'open' as const }), weight: 3 },
  { arbitrary: fc.record({ type: fc.constant('read' as const), file, honours: fc.boolean() }), weight: 3 },
  fc.record({ type: fc.constant('write' as const), file }),
  fc.record({ type: fc.constant('close' as const), file }),
  { arbitrary: fc.record({ type: fc.constant('revoke' as const), bounded: fc.boolean() }), weight: 2 },
  fc.record({ type: fc.constant('hangup' as const), file }),
);

/** What the model knows of one open on the driver side. */
interface FileModel {
  readonly id: number;
  releases: number;
  releasing: boolean;
  inFlight: number;
}

describe('revoke(2) under every interleaving the scheduler finds', () => {
  it('never reaches the driver for a file after its release, releases each file once, and resolves a revoke only after its files are done', async () => {
    await fc.assert(
      fc.asyncProperty(scheduler, fc.array(action, { minLength: 1, maxLength: 30 }), fc.boolean(), async (s, actions, asyncOpen) => {
        const violations: string[] = [];
        const fail = (message: string): void => void violations.push(message);
        const models: FileModel[] = [];
        const files: OpenFile[] = [];
        const driverFiles: DeviceFile<FileModel>[] = [];
        const devfs = new DevFs();
        const enter = (f: DeviceFile<FileModel>, what: string): FileModel => {
          const model = f.private as FileModel;
          if (model.releasing || model.releases > 0) fail(`file ${model.id}: ${what} after its release began`);
          return model;
        };
        devfs.create<FileModel>('/dev/tty', {
          open(f) {
            const model: FileModel = { id: models.length, releases: 0, releasing: false, inFlight: 0 };
            models.push(model);
            f.private = model;
            driverFiles.push(f);
            return asyncOpen ? s.schedule(Promise.resolve(), `open ${model.id}`) : undefined;
          },
          async read(f, honours) {
            const model = enter(f, 'read');
            model.inFlight++;
            try {
              await new Promise<void>((resolve, reject) => {
                if (honours === true) f.signal.addEventListener('abort', () => reject(f.signal.reason), { once: true });
                s.schedule(Promise.resolve(), `read ${model.id}`).then(resolve, reject);
              });
              if (model.releasing || model.releases > 0) fail(`file ${model.id}: read went on after its release began`);
              return 'data';
            } finally {
              model.inFlight--;
            }
          },
          write(f, data) {
            enter(f, 'write');
            return (data as string).length;
          },
          ioctl(f) {
            enter(f, 'ioctl');
            f.hangup(); // a revoke from inside an operation: asynchronous, never awaited here
            return 'hung up';
          },
          release(f) {
            const model = f.private as FileModel;
            if (model.inFlight !== 0) fail(`file ${model.id}: released with ${model.inFlight} operations in flight`);
            model.releasing = true;
            const done = (): void => {
              model.releasing = false;
              model.releases++;
            };
            if (model.id % 2 === 0) return done();
            return s.schedule(Promise.resolve(), `release ${model.id}`).then(done);
          },
        });

        checkEveryStep(() => {
          for (const model of models) if (model.releases > 1) fail(`file ${model.id} released ${model.releases} times`);
          assert.deepEqual(violations, []);
        });

        const expectCodes = (codes: string[]) => (error: unknown) => {
          if (error instanceof DrainTimeoutError && codes.includes('ERR_DRAIN_TIMEOUT')) return;
          if (!(error instanceof DeviceError) || !codes.includes(error.code)) throw error;
        };
        const pick = (n: number): OpenFile | undefined => files[n % Math.max(1, files.length)];

        const run = async (a: Action): Promise<void> => {
          switch (a.type) {
            case 'open':
              return devfs.open('/dev/tty').then((f) => void files.push(f), expectCodes(['ENODEV']));
            case 'read': {
              const f = pick(a.file);
              if (f === undefined) return;
              return f.read(a.honours).then((value) => {
                if (value !== 'data' && value !== null) fail(`read resolved ${String(value)}`);
              }, expectCodes(['EBADF']));
            }
            case 'write': {
              const f = pick(a.file);
              if (f === undefined) return;
              return f.write('abc').then((n) => {
                if (n !== 3) fail(`write resolved ${String(n)}`);
              }, expectCodes(['EIO', 'EBADF']));
            }
            case 'close':
              return pick(a.file)?.close();
            case 'hangup': {
              const f = pick(a.file);
              if (f === undefined) return;
              return f.ioctl('hangup').then(() => {}, expectCodes(['ENODEV', 'EBADF']));
            }
            case 'revoke': {
              // The files of the generation being revoked: every one must be done when it resolves.
              const covered = driverFiles.filter((f) => (f.private as FileModel).releases === 0);
              const node = devfs.get('/dev/tty');
              if (node === undefined) return;
              return node.revoke(a.bounded ? { timeout: 0 } : undefined).then(() => {
                for (const f of covered) {
                  const model = f.private as FileModel;
                  if (model.inFlight !== 0) fail(`revoke resolved with file ${model.id} busy`);
                  if (model.releases !== 1) fail(`revoke resolved with file ${model.id} not released`);
                }
              }, expectCodes(['ERR_DRAIN_TIMEOUT']));
            }
          }
        };

        const tasks = actions.map((a, i) => s.schedule(Promise.resolve(), `${i}: ${JSON.stringify(a)}`).then(() => run(a)));
        await s.waitFor(Promise.all(tasks));
        await s.waitIdle();

        // Tear down: close every file and remove the node; then every successful open was released once.
        const teardown = Promise.all(files.map((f) => f.close())).then(() => devfs.get('/dev/tty')?.remove());
        await s.waitFor(teardown);
        await s.waitIdle();
        assert.deepEqual(violations, []);
        for (const f of files) assert.notEqual(f.state, 'open');
        // Every open that reached the driver was released once, the ones revoked while opening too.
        for (const model of models) assert.equal(model.releases, 1, `file ${model.id} released exactly once`);
        assert.deepEqual(devfs.paths(), []);
      }),
      { numRuns: runs },
    );
  });
});
