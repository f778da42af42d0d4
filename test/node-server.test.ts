import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { getEventListeners, once } from 'node:events';
import { setImmediate as turn } from 'node:timers/promises';
import { after, describe, it, type TestContext } from 'node:test';
import { Revocable, RevokedError } from '../src/index.js';
import { ClientDisconnectedError, ManagedAbortController, manageServer, type ManagedServer, type ManagedServerOptions, type RequestSignalOptions } from '../src/node/index.js';
import { deferred, state } from './support/deferred.js';
import './support/leaks.js';
import { leakCheck } from './fixtures/node/leaks.js';
import { counter, listen, parseResponses, raw, request } from './fixtures/node/http.js';

const body = (n: number): string => 'x'.repeat(n);

/** An async request handler as the plain listener http wants; a failure destroys the response. */
const serve =
  (fn: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): http.RequestListener =>
  (req, res) => {
    fn(req, res).catch((error: Error) => res.destroy(error));
  };

/** A managed http server torn down (cut at once) after the test, whatever happened in it. */
function managedHttp(t: TestContext, handler: http.RequestListener, options?: Parameters<typeof manageServer>[1]): ManagedServer<http.Server> {
  const managed = manageServer(http.createServer(handler), options);
  t.after(async () => {
    await managed.revoke({ timeout: 0 });
  });
  return managed;
}

describe('ManagedServer over http', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('lets every request accepted before the revoke complete with its full body, with Connection: close', async (t) => {
    const gate = deferred();
    const entered = counter(5);
    const managed = managedHttp(t, serve(async (req, res) => {
      entered.hit();
      res.write(body(1000));
      await gate.promise;
      res.end(body(64 * 1024));
    }));
    const port = await listen(managed.server);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    t.after(() => agent.destroy());
    const responses = Array.from({ length: 5 }, (_, i) => request(port, `/slow/${i}`, { agent }));
    await entered.reached;

    const revoked = managed.revoke();
    assert.equal(await state(revoked), 'pending', 'the revoke waits for the requests in flight');
    gate.resolve();
    for (const response of await Promise.all(responses)) {
      assert.equal(response.status, 200);
      assert.equal(response.body.length, 1000 + 64 * 1024);
    }
    assert.equal(await revoked, true);
    assert.equal(managed.connections, 0);
    assert.equal(managed.report?.graceful, true);
    assert.deepEqual(managed.report?.cut, []);
  });

  it('tells the client to close: the response to an in-flight request carries Connection: close', async (t) => {
    const gate = deferred();
    const entered = counter(1);
    const managed = managedHttp(t, serve(async (_req, res) => {
      entered.hit();
      await gate.promise;
      res.end('done');
    }));
    const port = await listen(managed.server);
    const agent = new http.Agent({ keepAlive: true });
    t.after(() => agent.destroy());
    const response = request(port, '/', { agent });
    await entered.reached;
    const revoked = managed.revoke();
    gate.resolve();
    assert.equal((await response).headers.connection, 'close');
    await revoked;
  });

  it('refuses new connections from the first step of the revoke', async (t) => {
    const gate = deferred();
    const entered = counter(1);
    const managed = managedHttp(t, serve(async (_req, res) => {
      entered.hit();
      await gate.promise;
      res.end();
    }));
    const port = await listen(managed.server);
    const pending = request(port, '/');
    await entered.reached;
    const revoked = managed.revoke();
    await assert.rejects(request(port, '/new'), { code: 'ECONNREFUSED' });
    gate.resolve();
    await pending;
    await revoked;
  });

  it('closes an idle keep-alive connection once the idle grace has passed, while a busy one is still in flight', async (t) => {
    const gate = deferred();
    const slow = counter(1);
    const managed = managedHttp(t, serve(async (req, res) => {
      if (req.url === '/slow') {
        slow.hit();
        await gate.promise;
      }
      res.end('ok');
    }), { idleGrace: 20 });
    const port = await listen(managed.server);
    const idle = raw(port);
    const answered = once(idle.socket, 'data');
    idle.socket.write('GET /fast HTTP/1.1\r\nHost: x\r\n\r\n');
    const busy = request(port, '/slow');
    await slow.reached;
    // The idle connection has had its answer and waits, kept alive, for another request.
    await answered;

    const revoked = managed.revoke();
    const text = await idle.received; // the server closed it: it did not wait for /slow
    assert.equal(await state(busy), 'pending');
    assert.match(text, /^HTTP\/1\.1 200 OK/);
    gate.resolve();
    assert.equal((await busy).body, 'ok');
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });

  it('serves, with Connection: close, a request sent on an idle keep-alive connection after the revoke started', async (t) => {
    const managed = managedHttp(t, (req, res) => res.end(`body of ${req.url}`));
    const port = await listen(managed.server);
    const client = raw(port);
    const answered = once(client.socket, 'data');
    client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered; // idle now: Node's close() would destroy it, and lose what comes next
    const revoked = managed.revoke();
    client.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    const responses = parseResponses(await client.received);
    assert.deepEqual(responses.map((r) => r.body), ['body of /1', 'body of /2']);
    assert.deepEqual(responses.map((r) => /connection: (\S+)/i.exec(r.head)?.[1]), ['keep-alive', 'close']);
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });

  it('gives the idle grace to a connection whose keep-alive response was under way at the revoke: the next request is served', async (t) => {
    const gate = deferred();
    const entered = counter(1);
    const managed = managedHttp(t, serve(async (req, res) => {
      if (req.url === '/1') {
        res.writeHead(200, { 'content-length': 4 }); // the head says keep-alive before the revoke
        entered.hit();
        await gate.promise;
        res.end('done');
      } else res.end(`body of ${req.url}`);
    }));
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await entered.reached;
    const revoked = managed.revoke();
    let text = '';
    const first = new Promise<void>((resolve) => {
      client.socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.endsWith('done')) resolve();
      });
    });
    gate.resolve();
    await first;
    client.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n'); // as a keep-alive client may, at once
    const responses = parseResponses(await client.received);
    assert.deepEqual(responses.map((r) => r.body), ['done', 'body of /2']);
    assert.deepEqual(responses.map((r) => /connection: (\S+)/i.exec(r.head)?.[1]), ['keep-alive', 'close']);
    await revoked;
  });

  it('starts the idle grace again when part of a request has arrived, and serves it once complete', async (t) => {
    const managed = managedHttp(t, (req, res) => res.end(`body of ${req.url}`), { idleGrace: 1_000 });
    const sockets: net.Socket[] = [];
    managed.server.on('connection', (socket: net.Socket) => sockets.push(socket));
    const port = await listen(managed.server);
    const slowClient = raw(port);
    const quietClient = raw(port);
    await Promise.all([slowClient.connected, quietClient.connected]);
    while (sockets.length < 2) await turn();
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const revoked = managed.revoke();
    const server = sockets.find((s) => s.remotePort === slowClient.socket.localPort) as net.Socket;
    slowClient.socket.write('GET /late HT');
    while (server.bytesRead === 0) await turn();
    t.mock.timers.tick(1_000); // the grace has passed for both
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(server.destroyed, false, 'bytes arrived during the grace: a request is on its way');
    assert.equal(await quietClient.received, '', 'the connection that received nothing is closed');
    t.mock.timers.reset();
    slowClient.socket.write('TP/1.1\r\nHost: x\r\n\r\n');
    const responses = parseResponses(await slowClient.received);
    assert.deepEqual(responses.map((r) => r.body), ['body of /late']);
    await revoked;
  });

  it('bounds the idle grace by the deadline', async (t) => {
    const managed = managedHttp(t, (_req, res) => res.end('ok'), { idleGrace: Infinity });
    const port = await listen(managed.server);
    const client = raw(port);
    await client.connected;
    while (managed.connections < 1) await turn();
    await managed.revoke({ timeout: 0 });
    await client.received;
    assert.equal(managed.report?.graceful, false);
    assert.equal(managed.report?.destroyed, 1);
    assert.deepEqual(managed.report?.cut, [], 'no request was cut: the connection was idle');
  });

  it('cuts a request stuck past the deadline, reports it, and resolves when every connection is gone', async (t) => {
    const stuck = counter(1);
    const never = deferred();
    t.after(() => never.resolve());
    const managed = managedHttp(t, serve(async (_req, res) => {
      stuck.hit();
      res.writeHead(200, { 'content-length': 10 });
      res.write('12345');
      await never.promise;
    }));
    const port = await listen(managed.server);
    const response = request(port, '/stuck?id=1');
    await stuck.reached;
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const revoked = managed.revoke({ timeout: 1_000 });
    t.mock.timers.tick(999);
    assert.equal(await state(revoked), 'pending');
    t.mock.timers.tick(1);
    t.mock.timers.reset();
    await assert.rejects(response);
    assert.equal(await revoked, true);
    const report = managed.report;
    assert.ok(report);
    assert.equal(report.graceful, false);
    assert.equal(report.destroyed, 1);
    assert.equal(report.cut.length, 1);
    assert.deepEqual({ ...report.cut[0], remotePort: 0 }, { method: 'GET', url: '/stuck?id=1', headersSent: true, upgraded: false, remoteAddress: '127.0.0.1', remotePort: 0 });
  });

  it('cuts everything at once with timeout 0, and a later revoke brings the deadline forward', async (t) => {
    const never = deferred();
    t.after(() => never.resolve());
    const entered = counter(2);
    const managed = managedHttp(t, serve(async () => {
      entered.hit();
      await never.promise;
    }));
    const port = await listen(managed.server);
    const responses = [request(port, '/a'), request(port, '/b')].map((p) => p.catch((error: Error) => error));
    await entered.reached;
    const first = managed.revoke({ timeout: 60_000 });
    const second = managed.revoke({ timeout: 0 });
    assert.equal(await second, false);
    assert.equal(await first, true);
    for (const response of await Promise.all(responses)) assert.ok(response instanceof Error);
    assert.deepEqual(managed.report?.cut.map((c) => c.url).sort(), ['/a', '/b']);
  });

  it('answers pipelined requests in full, closing after the last one', async (t) => {
    const gate = deferred();
    const entered = counter(3);
    const managed = managedHttp(t, serve(async (req, res) => {
      entered.hit();
      await gate.promise;
      res.end(`body of ${req.url}`);
    }));
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
    await entered.reached;
    const revoked = managed.revoke();
    gate.resolve();
    const responses = parseResponses(await client.received);
    assert.deepEqual(responses.map((r) => r.body), ['body of /1', 'body of /2', 'body of /3']);
    assert.deepEqual(responses.map((r) => /connection: (\S+)/i.exec(r.head)?.[1]), ['keep-alive', 'keep-alive', 'close']);
    await revoked;
  });

  it('sends pipelined responses whose heads were written before the revoke, then ends the connection', async (t) => {
    const gate = deferred();
    const entered = counter(3);
    const managed = managedHttp(t, serve(async (req, res) => {
      entered.hit();
      if (req.url === '/1') await gate.promise;
      res.end(`body of ${req.url}`); // /2 and /3 are complete, queued behind /1
    }));
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
    await entered.reached;
    const revoked = managed.revoke();
    gate.resolve();
    const responses = parseResponses(await client.received);
    assert.deepEqual(responses.map((r) => r.body), ['body of /1', 'body of /2', 'body of /3']);
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });

  it('serves a request that arrives on an open connection during the drain, with Connection: close', async (t) => {
    const gate = deferred();
    const first = counter(1);
    const second = counter(1);
    const managed = managedHttp(t, serve(async (req, res) => {
      if (req.url === '/1') {
        first.hit();
        await gate.promise;
      } else second.hit();
      res.end(`body of ${req.url}`);
    }));
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await first.reached;
    const revoked = managed.revoke();
    client.socket.write('GET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
    await second.reached;
    gate.resolve();
    const responses = parseResponses(await client.received);
    assert.deepEqual(responses.map((r) => r.body), ['body of /1', 'body of /2']);
    assert.deepEqual(responses.map((r) => /connection: (\S+)/i.exec(r.head)?.[1]), ['keep-alive', 'close']);
    await revoked;
  });

  it('does not cut a response that has ended but is still being flushed (Node close() would)', async (t) => {
    const size = 16 * 1024 * 1024;
    const ended = counter(1);
    const managed = managedHttp(t, (_req, res) => {
      res.end(Buffer.alloc(size, 97));
      ended.hit();
    });
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.pause(); // a slow reader: the response cannot be flushed yet
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await ended.reached;
    const revoked = managed.revoke();
    client.socket.resume();
    const text = await client.received;
    assert.equal(parseResponses(text)[0]?.body.length, size);
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });

  it('counts a request handed to checkContinue as in flight: the drain waits for it and it ends with Connection: close', async (t) => {
    const gate = deferred();
    const arrived = deferred();
    const managed = managedHttp(t, (_req, res) => res.end('not here'), { idleGrace: 5 });
    managed.server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeContinue();
      req.resume();
      req.on('end', () => {
        arrived.resolve();
        void gate.promise.then(() => res.end('uploaded'));
      });
    });
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await once(client.socket, 'data'); // HTTP/1.1 100 Continue
    client.socket.write('hello');
    await arrived.promise;
    // The idle grace on a clock of the test's: a connection taken for idle is destroyed once it
    // has passed (on the turn after the timer), which these ticks make certain.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const revoked = managed.revoke();
    t.mock.timers.tick(10);
    await turn();
    await turn();
    t.mock.timers.reset();
    assert.equal(client.socket.destroyed, false, 'the connection is still open');
    assert.equal(await state(revoked), 'pending', 'the drain waits for the upload');
    gate.resolve();
    const [response] = parseResponses((await client.received).replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''));
    assert.match(response?.head ?? '', /^HTTP\/1\.1 200/);
    assert.match(response?.head ?? '', /connection: close/i);
    assert.equal(response?.body, 'uploaded');
    await revoked;
    assert.deepEqual(managed.report?.cut, []);
  });

  it('adds no checkContinue listener of its own: without the application\'s, Node answers 100 and emits request', async (t) => {
    const managed = managedHttp(t, (req, res) => {
      req.resume();
      req.on('end', () => res.end('via request'));
    });
    const onContinue = (): void => assert.fail('the application removed this listener');
    managed.server.on('checkContinue', onContinue);
    managed.server.removeListener('checkContinue', onContinue);
    assert.equal(managed.server.listenerCount('checkContinue'), 0);
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    const text = await client.received;
    assert.match(text, /via request$/);
    managed.server.on('checkContinue', onContinue);
    assert.equal(managed.server.listenerCount('checkContinue'), 2, 'ours comes with the application one');
    managed.server.off('checkContinue', onContinue);
    assert.equal(managed.server.listenerCount('checkContinue'), 0, 'and goes with it');
    await managed.revoke();
  });

  it('leaves an upgraded connection open at the kick: its owner closes it through the signal', async (t) => {
    const managed = managedHttp(t, (_req, res) => res.end());
    managed.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (chunk) => socket.write(chunk));
      managed.signal.addEventListener('abort', () => socket.end('bye'));
    });
    const port = await listen(managed.server);
    const client = raw(port);
    const switched = once(client.socket, 'data');
    client.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    await switched;
    const revoked = managed.revoke();
    assert.match(await client.received, /bye$/);
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });

  it('cuts an upgraded connection that ignores the kick at the deadline, and reports it', async (t) => {
    const managed = managedHttp(t, (_req, res) => res.end());
    managed.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    });
    const port = await listen(managed.server);
    const client = raw(port);
    const switched = once(client.socket, 'data');
    client.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    await switched;
    const revoked = managed.revoke({ timeout: 0 });
    await client.received;
    await revoked;
    assert.equal(managed.report?.graceful, false);
    assert.deepEqual(managed.report?.cut.map((c) => [c.url, c.upgraded]), [['/ws', true]]);
  });

  it('adds no upgrade listener of its own: without one, Node serves upgrade requests as requests', async (t) => {
    const managed = managedHttp(t, (_req, res) => res.end('plain'));
    assert.equal(managed.server.listenerCount('upgrade'), 0);
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.end('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    assert.equal(parseResponses(await client.received)[0]?.body, 'plain');
    const listener = (): void => {};
    managed.server.on('upgrade', listener);
    assert.equal(managed.server.listenerCount('upgrade'), 2, 'ours comes with the application one');
    managed.server.off('upgrade', listener);
    assert.equal(managed.server.listenerCount('upgrade'), 0, 'and goes with it');
    await managed.revoke();
  });

  it('gives the server back as it found it: listeners removed, second revoke resolves false', async () => {
    const server = http.createServer((_req, res) => res.end());
    const before = ['connection', 'request', 'newListener', 'removeListener'].map((e) => server.listenerCount(e));
    const managed = manageServer(server);
    await listen(server);
    assert.equal(await managed.revoke(), true);
    assert.equal(await managed.revoke(), false);
    assert.deepEqual(['connection', 'request', 'newListener', 'removeListener'].map((e) => server.listenerCount(e)), before);
    assert.equal(server.listening, false);
    const again = manageServer(server);
    assert.equal(await again.revoke(), true, 'a revoked server can be managed afresh');
  });

  it('revokes a server that never listened', async () => {
    const managed = manageServer(http.createServer());
    assert.equal(await managed.revoke(), true);
    assert.equal(managed.report?.graceful, true);
  });

  it('is a Revocable: a user access holds the revoke, and handle() fails once revoked', async (t) => {
    const managed = managedHttp(t, (_req, res) => res.end());
    await listen(managed.server);
    const access = managed.access();
    const revoked = managed.revoke();
    assert.equal(await state(revoked), 'pending');
    assert.ok(access.signal.aborted);
    access.release();
    await revoked;
    assert.throws(() => managed.handle(), RevokedError);
  });

  it('refuses what it cannot manage', async () => {
    assert.throws(() => manageServer({} as net.Server), /Expected `server` to be a net.Server, http.Server or https.Server/);
    const server = http.createServer();
    const managed = manageServer(server);
    assert.throws(() => manageServer(server), /already is/);
    assert.throws(() => manageServer(net.createServer(), { kick: 1 as never }), TypeError);
    assert.throws(() => manageServer(net.createServer(), { timeout: -5 }), RangeError);
    assert.throws(() => manageServer(net.createServer(), { timeout: 2 ** 31 }), /Expected `options.timeout` to be a number of milliseconds from 0 to 2147483647, or Infinity/);
    assert.throws(() => manageServer(net.createServer(), { idleGrace: 2 ** 31 }), /Expected `options.idleGrace` to be a number of milliseconds from 0 to 2147483647, or Infinity/);
    assert.throws(() => void managed.revoke({ timeout: 2 ** 31 }), /Expected `options.timeout`/);
    assert.equal(managed.state, 'live', 'a refused deadline changes nothing');
    const reads: string[] = [];
    const options = new Proxy({ name: 'api' }, { get: (target, key: string) => (reads.push(key), target[key as 'name']) });
    const counted = manageServer(net.createServer(), options as ManagedServerOptions);
    assert.deepEqual(reads.sort(), ['idleGrace', 'kick', 'name', 'signal', 'timeout'], 'each option read once');
    await counted.revoke();
    await managed.revoke();
  });
});

describe('ManagedServer.requestSignal', () => {
  const leaks = leakCheck();
  after(() => leaks());

  /** A server whose handler takes the request's signal and waits for it, or for `finish`. */
  function signalling<T>(t: TestContext, options?: RequestSignalOptions<T>) {
    const signals: AbortSignal[] = [];
    const entered = counter(1);
    const finish = deferred();
    const managed = managedHttp(t, serve(async (req, res) => {
      const signal = managed.requestSignal(req, res, options);
      signals.push(signal);
      entered.hit();
      await Promise.race([finish.promise, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))]);
      if (!res.destroyed) res.end(signal.aborted ? 'kicked' : 'done');
    }));
    return { managed, signals, entered, finish };
  }

  it("aborts at the server's kick with the server's RevokedError, and the request is still answered", async (t) => {
    const { managed, signals, entered } = signalling(t);
    const port = await listen(managed.server);
    const response = request(port, '/long-poll');
    await entered.reached;
    const revoked = managed.revoke();
    assert.ok(signals[0]?.aborted);
    assert.ok(signals[0]?.reason instanceof RevokedError);
    assert.equal((await response).body, 'kicked');
    await revoked;
  });

  it('aborts when the client disconnects before the response is complete', async (t) => {
    const { managed, signals, entered } = signalling(t);
    const port = await listen(managed.server);
    const client = raw(port);
    client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await entered.reached;
    const aborted = once(signals[0] as AbortSignal, 'abort');
    client.socket.destroy();
    await aborted;
    assert.ok(signals[0]?.reason instanceof ClientDisconnectedError);
    assert.equal((signals[0]?.reason as ClientDisconnectedError).code, 'ECONNRESET');
    assert.match((signals[0]?.reason as Error).message, /before the response to GET \/a was complete/);
    await managed.revoke();
  });

  it("aborts when the resource it is given is revoked, with the resource's RevokedError", async (t) => {
    const tenant = new Revocable({ db: true }, { name: 'tenant acme' });
    const { managed, signals, entered } = signalling(t, { resource: tenant.handle() });
    const port = await listen(managed.server);
    const response = request(port, '/acme');
    await entered.reached;
    await tenant.revoke();
    assert.ok(signals[0]?.aborted);
    assert.match((signals[0]?.reason as Error).message, /Revocable "tenant acme" was revoked/);
    assert.equal((await response).body, 'kicked');
    await managed.revoke();
  });

  it('is aborted from the start for a resource already revoked, or a signal already aborted', async (t) => {
    const tenant = new Revocable({}, { name: 'gone' });
    await tenant.revoke();
    for (const resource of [tenant, AbortSignal.abort(new Error('cancelled'))]) {
      const managed = managedHttp(t, (req, res) => {
        const signal = managed.requestSignal(req, res, { resource });
        res.end(signal.aborted ? (signal.reason as Error).message : 'live');
      });
      const port = await listen(managed.server);
      assert.match((await request(port, '/')).body, /Revocable "gone" was revoked|cancelled/);
      await managed.revoke();
    }
  });

  it('leaves a finished request unaborted, and holds no listener on the server or the resource once it has closed', async (t) => {
    const tenant = new ManagedAbortController({ name: 'tenant' });
    const { managed, signals, entered, finish } = signalling(t, { resource: tenant.signal });
    const before = [getEventListeners(managed.signal, 'abort').length, getEventListeners(tenant.signal, 'abort').length];
    const port = await listen(managed.server);
    const response = request(port, '/');
    await entered.reached;
    assert.deepEqual([getEventListeners(managed.signal, 'abort').length, getEventListeners(tenant.signal, 'abort').length], before.map((n) => n + 1));
    finish.resolve();
    assert.equal((await response).body, 'done');
    while (getEventListeners(managed.signal, 'abort').length > (before[0] as number)) await turn();
    assert.equal(getEventListeners(tenant.signal, 'abort').length, before[1]);
    assert.equal(signals[0]?.aborted, false);
    await Promise.all([managed.revoke(), tenant.revoke()]);
  });

  it('leaves the kick out with kick: false', async (t) => {
    const { managed, signals, entered, finish } = signalling(t, { kick: false });
    const port = await listen(managed.server);
    const response = request(port, '/');
    await entered.reached;
    const revoked = managed.revoke();
    assert.equal(signals[0]?.aborted, false);
    finish.resolve();
    assert.equal((await response).body, 'done');
    await revoked;
  });

  it('refuses bad arguments, reading each option once', async (t) => {
    const checks = deferred<void>();
    const managed = managedHttp(t, (req, res) => {
      try {
        assert.throws(() => managed.requestSignal({} as http.IncomingMessage, res), /Expected `req` to be an http.IncomingMessage/);
        assert.throws(() => managed.requestSignal(req, {} as http.ServerResponse), /Expected `res` to be an http.ServerResponse/);
        assert.throws(() => managed.requestSignal(req, res, { resource: {} as AbortSignal }), /Expected `options.resource` to be a Revocable, a RevocableHandle, an AbortSignal or undefined/);
        assert.throws(() => managed.requestSignal(req, res, { kick: 'no' as never }), /Expected `options.kick` to be a boolean/);
        assert.throws(() => managed.requestSignal(req, res, null as never), TypeError);
        const reads: string[] = [];
        const options = new Proxy({ kick: true }, { get: (target, key: string) => (reads.push(key), target[key as 'kick']) });
        managed.requestSignal(req, res, options as RequestSignalOptions<unknown>);
        assert.deepEqual(reads.sort(), ['kick', 'resource']);
        checks.resolve();
      } catch (error) {
        checks.reject(error);
      }
      res.end();
    });
    const port = await listen(managed.server);
    await request(port, '/');
    await checks.promise;
    await managed.revoke();
  });
});

describe('ManagedServer over https', () => {
  const leaks = leakCheck();
  const dir = mkdtempSync(join(tmpdir(), 'revocable-tls-'));
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  after(async () => {
    await leaks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drains in-flight requests and closes idle connections, over TLS', { skip: made.status !== 0 && 'openssl is not available' }, async (t) => {
    const gate = deferred();
    const slow = counter(1);
    const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    const server = https.createServer(
      tls,
      serve(async (req, res) => {
        if (req.url === '/slow') {
          slow.hit();
          await gate.promise;
        }
        res.end(`body of ${req.url}`);
      }),
    );
    const managed = manageServer(server);
    t.after(() => managed.revoke({ timeout: 0 }));
    const port = await listen(server);
    const get = (path: string): Promise<{ body: string; connection: string | undefined; socket: net.Socket }> =>
      new Promise((resolve, reject) => {
        // An agent per request: each on its own connection, kept alive.
        const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });
        t.after(() => agent.destroy());
        https
          .get({ host: '127.0.0.1', port, path, agent }, (res) => {
            const socket = res.socket;
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ body: text, connection: res.headers.connection, socket }));
          })
          .on('error', reject);
      });
    const fast = await get('/fast'); // its connection is now idle, kept alive
    const idleClosed = once(fast.socket, 'close');
    const busy = get('/slow');
    await slow.reached;
    const revoked = managed.revoke();
    await idleClosed;
    gate.resolve();
    const answer = await busy;
    assert.equal(answer.body, 'body of /slow');
    assert.equal(answer.connection, 'close');
    await revoked;
    assert.equal(managed.report?.graceful, true);
  });
});

describe('ManagedServer over net', () => {
  const leaks = leakCheck();
  after(() => leaks());

  it('ends every connection at the kick (a FIN after what was written) and resolves when they are gone', async () => {
    const connected = counter(2);
    const managed = manageServer(
      net.createServer((socket) => {
        socket.write('hello ');
        connected.hit();
      }),
    );
    const port = await listen(managed.server);
    const clients = [raw(port), raw(port)];
    await connected.reached;
    await managed.revoke();
    for (const client of clients) assert.equal(await client.received, 'hello ');
    assert.equal(managed.report?.graceful, true);
  });

  it('runs a custom kick, and cuts what stays open at the deadline', async () => {
    const connected = counter(1);
    const kicked: net.Socket[] = [];
    const managed = manageServer(
      net.createServer(() => connected.hit()),
      { kick: (socket) => kicked.push(socket), timeout: 0 },
    );
    const port = await listen(managed.server);
    const client = raw(port);
    await connected.reached;
    await managed.revoke();
    await client.received;
    assert.equal(kicked.length, 1);
    assert.equal(managed.report?.graceful, false);
    assert.equal(managed.report?.destroyed, 1);
  });

  it('revokes when its parent signal aborts', async () => {
    const controller = new AbortController();
    const managed = manageServer(net.createServer(), { signal: controller.signal });
    await listen(managed.server);
    controller.abort();
    assert.equal(managed.state, 'revoking');
    await managed.revoke();
    assert.equal(managed.server.listening, false);
  });
});
