/**
 * SIGTERM under keep-alive load, against a real server in a child process: with the server in a
 * shutdown root, not one request is lost in any run; with plain `server.close()` in its place,
 * requests on the idle connections are (the client's next request was already on the wire).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { keepAliveLoad, type LoadResult } from './fixtures/node/keep-alive-load.js';
import { startApp } from './fixtures/node/app-process.js';

const app = fileURLToPath(new URL('./fixtures/node/keep-alive-app.ts', import.meta.url));
const CONNECTIONS = 20;
/** Responses before the SIGTERM: every connection is busy, kept alive, by then. */
const MID_LOAD = 2_000;

/** Starts the app, loads it, sends SIGTERM mid-load; resolves when the app and every connection are done. */
async function sigtermUnderLoad(t: TestContext, mode: 'managed' | 'plain'): Promise<{ result: LoadResult; code: number | null; stderr: string }> {
  const { child, port, exited, stderr } = await startApp(t, [app, mode]);
  const load = keepAliveLoad(port, { connections: CONNECTIONS });
  await load.reached(MID_LOAD);
  child.kill('SIGTERM');
  const [[code], result] = await Promise.all([exited, load.done]);
  return { result, code, stderr: stderr() };
}

describe('SIGTERM under keep-alive load, a real server in a child process', () => {
  const leaks = leakCheck();
  after(() => leaks());

  for (const run of [1, 2, 3]) {
    it(`loses no request with the server in a shutdown root (run ${run} of 3)`, async (t) => {
      const { result, code, stderr } = await sigtermUnderLoad(t, 'managed');
      assert.equal(result.failed, 0, `failed requests: ${result.reasons.join(', ')}`);
      assert.equal(result.errors, 0);
      assert.ok(result.ok >= MID_LOAD);
      assert.equal(result.closedPolitely, CONNECTIONS, 'every connection was told Connection: close, none was dropped');
      assert.equal(code, 0);
      assert.match(stderr, /app: released in \d+ ms \(code 0\)/);
    });
  }

  it('loses requests with plain server.close() in its place', async (t) => {
    const { result, code } = await sigtermUnderLoad(t, 'plain');
    t.diagnostic(`plain close(): ${result.failed} of ${CONNECTIONS} connections lost a request; ${result.ok} answered`);
    assert.equal(code, 0);
    assert.ok(result.failed > 0, 'plain close() destroys idle connections with a request on the wire');
  });
});
