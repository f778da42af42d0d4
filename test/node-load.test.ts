/**
 * A real load generator (autocannon) on loopback while the server is revoked: every request the
 * server accepted is answered in full. Bounded: 10 connections, 2 seconds.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import autocannon from 'autocannon';
import { manageServer } from '../src/node/index.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { counter, listen } from './fixtures/node/http.js';

describe('ManagedServer under load', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('loses none of the requests accepted before the revoke while autocannon is running', async (t) => {
    const payload = 'y'.repeat(4096);
    let accepted = 0;
    let answered = 0;
    const warm = counter(300);
    const managed = manageServer(
      http.createServer((_req, res) => {
        accepted++;
        warm.hit();
        // Slow enough that many requests are in flight when the revoke comes.
        setTimeout(() => {
          res.end(payload, () => answered++);
        }, 1 + (accepted % 10));
      }),
    );
    t.after(() => managed.revoke({ timeout: 0 }));
    const port = await listen(managed.server);
    const load = autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, duration: 2, expectBody: payload });
    await warm.reached;

    const acceptedBeforeRevoke = accepted;
    assert.equal(await managed.revoke({ timeout: 5_000 }), true);
    const result = await load;

    assert.ok(acceptedBeforeRevoke >= 300);
    assert.equal(answered, accepted, 'the server finished every response it started');
    assert.equal(result['2xx'], accepted, 'the client received every accepted request in full');
    assert.equal(result.mismatches, 0, 'no body was cut short');
    assert.equal(result.non2xx, 0);
    assert.equal(managed.report?.graceful, true);
    assert.deepEqual(managed.report?.cut, []);
  });
});
