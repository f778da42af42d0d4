/**
 * The order trap, against a real process: tenants opened lazily (on their first request, so newer
 * than the server) must be released after the server has drained. With the root's layers they
 * are, and SIGTERM under load gives 0 errors; added to the root itself, they are released first.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { keepAliveLoad, type LoadResult } from './fixtures/node/keep-alive-load.js';
import { startApp } from './fixtures/node/app-process.js';

const app = fileURLToPath(new URL('./fixtures/node/tenant-app.ts', import.meta.url));

async function sigtermUnderLoad(t: TestContext, mode: 'layered' | 'trap'): Promise<{ results: LoadResult[]; code: number | null; stderr: string }> {
  const { child, port, exited, stderr } = await startApp(t, [app, mode]);
  // Three tenants, each opened by its first request, after the server was created.
  const loads = ['acme', 'globex', 'initech'].map((tenant) => keepAliveLoad(port, { connections: 6, path: `/${tenant}` }));
  await Promise.all(loads.map((load) => load.reached(500)));
  child.kill('SIGTERM');
  const [[code], ...results] = await Promise.all([exited, ...loads.map((load) => load.done)]);
  return { results, code, stderr: stderr() };
}

describe('tenants opened lazily under one shutdown root, a real process under load', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('releases them after the server has drained when they live in a layer made at startup: 0 errors', async (t) => {
    const { results, code, stderr } = await sigtermUnderLoad(t, 'layered');
    for (const result of results) {
      assert.equal(result.errors, 0, 'no request met a closed tenant');
      assert.equal(result.failed, 0, `failed requests: ${result.reasons.join(', ')}`);
    }
    assert.equal(code, 0);
    assert.match(stderr, /releasing 1 resource, newest first, then tenants \(3\), each side by side/);
  });

  it('releases them before the server when added to the root itself: requests fail (the trap)', async (t) => {
    const { results, stderr } = await sigtermUnderLoad(t, 'trap');
    const errors = results.reduce((sum, result) => sum + result.errors + result.failed, 0);
    t.diagnostic(`tenants in the root itself: ${errors} requests failed during the drain`);
    assert.ok(errors > 0, 'the tenants, newer than the server, were closed under its requests');
    assert.match(stderr, /releasing 4 resources, newest first/);
  });
});
