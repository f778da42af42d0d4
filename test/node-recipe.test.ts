/**
 * examples/service.ts, run as a real process: a server, lazily opened tenants and a worker pool
 * under one shutdown root. SIGTERM under keep-alive load loses no request, the long poll is
 * answered, and the log shows the order: the server, then the tenants, then the workers.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startApp } from './fixtures/node/app-process.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { keepAliveLoad } from './fixtures/node/keep-alive-load.js';
import { request } from './fixtures/node/http.js';

describe('examples/service.ts', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('drains the server under load, then closes the tenants and stops the workers, with no request lost', async (t) => {
    const { child, port, exited, stderr: output } = await startApp(t, ['examples/service.ts']);

    const first = JSON.parse((await request(port, '/acme/hash?text=hi')).body) as { tenant: string; digest: string };
    assert.equal(first.tenant, 'acme');
    assert.equal(first.digest, '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4');
    assert.equal((await request(port, '/ready')).status, 200);
    const longPoll = request(port, '/events');
    const loads = ['/acme/hash?text=a', '/globex/hash?text=b'].map((path) => keepAliveLoad(port, { connections: 8, path }));
    await Promise.all(loads.map((load) => load.reached(300)));
    child.kill('SIGTERM');

    const [[code], poll, ...results] = await Promise.all([exited, longPoll, ...loads.map((load) => load.done)]);
    const stderr = output();
    for (const result of results) {
      assert.equal(result.failed, 0, `lost: ${result.reasons.join(', ')}`);
      assert.equal(result.errors, 0, 'no request met a closed tenant or a stopped worker');
    }
    assert.equal(poll.status, 204, 'the long poll was answered at the kick');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /service: SIGTERM received: releasing 1 resource, newest first, then tenants \(2\), workers \(2\), each side by side/);
    assert.match(stderr, /service: released in \d+ ms \(code 0\)/);
  });
});
