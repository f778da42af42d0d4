/**
 * The shape of a real service: an HTTP server, tenants opened on their first request, and a pool of
 * worker threads, all under one shutdown root. On SIGTERM (or an uncaught error) the root says it
 * is not ready, waits `DRAIN_DELAY` ms for load balancers, drains the server (no request lost,
 * keep-alive or not), then closes the tenants and stops the workers, each layer side by side.
 *
 * Run: `node --import tsx examples/service.ts`, then `curl localhost:<port>/acme/hash?text=hi`,
 * `curl localhost:<port>/events` (a long poll that ends on shutdown), and Ctrl-C.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { ManagedResource, manageServer, manageWorker, shutdownScope, type ManagedWorker } from 'revocable/node';

// Released in this order: what the root holds itself (the server), then each layer.
const root = shutdownScope({ name: 'service', layers: ['tenants', 'workers'], delay: Number(process.env['DRAIN_DELAY'] ?? 0) });

/** Stands for a tenant's database: a query takes a turn of the event loop; closed, it throws. */
class Database {
  #open = true;
  queries = 0;
  constructor(readonly tenant: string) {}
  async count(): Promise<number> {
    await new Promise((resolve) => setImmediate(resolve));
    if (!this.#open) throw new Error(`the database of ${this.tenant} is closed`);
    return ++this.queries;
  }
  close(): void {
    this.#open = false;
  }
}

/** A tenant, opened on its first request: newer than the server, yet released after it. */
function tenant(id: string): Promise<ManagedResource<Database>> {
  return root.layer('tenants').getOrAdd(
    id,
    async () => new ManagedResource(new Database(id), { name: `tenant ${id}` }, (db) => db.close()),
    async (opening) => void (await (await opening).revoke()),
  );
}

// The workers hash text. A worker that crashes is revoked by its exit: its jobs reject at once.
const WORKER = `
  const { parentPort } = require('node:worker_threads');
  const { createHash } = require('node:crypto');
  parentPort.on('message', (job) => {
    if (job === 'stop') return process.exit(0);
    parentPort.postMessage({ id: job.id, digest: createHash('sha256').update(job.text).digest('hex') });
  });
`;
const pool: { worker: ManagedWorker; pending: Map<number, (digest: string) => void> }[] = [];
for (let i = 0; i < 2; i++) {
  const thread = new Worker(WORKER, { eval: true });
  const pending = new Map<number, (digest: string) => void>();
  thread.on('message', (reply: { id: number; digest: string }) => pending.get(reply.id)?.(reply.digest));
  const worker = root.layer('workers').use(manageWorker(thread, { name: `hasher ${i}`, stop: (w) => w.postMessage('stop'), grace: 2_000 }));
  pool.push({ worker, pending });
}
let jobs = 0;

/** A job on the next worker; it rejects if the worker dies, or when `signal` aborts. */
function hash(text: string, signal: AbortSignal): Promise<string> {
  const id = ++jobs;
  const { worker, pending } = pool[id % pool.length] as (typeof pool)[number];
  return worker.with(
    (thread) =>
      new Promise<string>((resolve, reject) => {
        const stop = (): void => reject(signal.reason);
        signal.addEventListener('abort', stop, { once: true });
        pending.set(id, (digest) => {
          signal.removeEventListener('abort', stop);
          resolve(digest);
        });
        thread.postMessage({ id, text });
      }).finally(() => pending.delete(id)),
  );
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/ready') return root.readiness(req, res);
  if (url.pathname === '/events') {
    // A long poll: it ends when the server's drain starts (the kick), with an answer.
    const signal = api.requestSignal(req, res);
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    res.statusCode = 204;
    return void res.end();
  }
  const [, id, action] = url.pathname.split('/');
  if (id === undefined || id === '' || action !== 'hash') {
    res.statusCode = 404;
    return void res.end('not found\n');
  }
  try {
    const db = await tenant(id);
    // One signal for everything the request starts: the client's disconnect and the tenant's
    // revoke. Not the kick: a hash is short, and the drain waits for it.
    const signal = api.requestSignal(req, res, { resource: db, kick: false });
    const [count, digest] = await Promise.all([db.with((d) => d.count()), hash(url.searchParams.get('text') ?? '', signal)]);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ tenant: id, count, digest }));
  } catch (error) {
    res.statusCode = 503;
    res.end(`${(error as Error).message}\n`);
  }
}

const api = root.use(manageServer(http.createServer((req, res) => void handle(req, res)), { name: 'api', timeout: 10_000 }));

api.server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  console.log(`ready ${(api.server.address() as AddressInfo).port}`);
});
