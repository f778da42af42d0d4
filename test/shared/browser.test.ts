/**
 * revocable/shared in Chromium, from the built `dist/`: a page that is not cross-origin isolated
 * gets the TypeError that says why; an isolated one (COOP and COEP headers) revokes across a
 * module worker, which names its thread itself (a browser has no thread ids).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { launch, skipBrowser, type PageResult } from '../support/browser.js';

const page = `<!doctype html><script type="module">
import { SharedRevocable } from '/shared/index.js';
const log = [];
try {
  if (!crossOriginIsolated) {
    try {
      SharedRevocable.create({});
      window.result = { ok: false, log, error: 'created without SharedArrayBuffer' };
    } catch (error) {
      log.push(error.message);
      window.result = { ok: error instanceof TypeError && /cross-origin isolated/.test(error.message), log };
    }
  } else {
    let released = 0;
    const shared = SharedRevocable.create({ thread: 'page' }, { name: 'in a page', release: () => void released++ });
    const worker = new Worker('/__worker.js', { type: 'module' });
    const next = () => new Promise((resolve) => (worker.onmessage = (event) => resolve(event.data)));
    const inside = next();
    worker.postMessage(shared.ref);
    log.push(await inside);
    log.push(\`accesses \${shared.accesses}\`);
    const revoked = await shared.revoke();
    log.push(\`revoked \${revoked}, released \${released}\`);
    const after = next();
    worker.postMessage('again');
    log.push(await after);
    window.result = { ok: revoked === true && released === 1 && log.join('|') === 'inside, kicked later|accesses 1|revoked true, released 1|refused', log };
  }
} catch (error) {
  window.result = { ok: false, log, error: String(error) };
}
</script>`;

const worker = `import { SharedRevocable } from '/shared/index.js';
let joined;
onmessage = (event) => {
  if (event.data === 'again') return postMessage(joined.tryAccess() === null ? 'refused' : 'granted');
  joined = SharedRevocable.attach(event.data, { thread: 'worker' }, { threadId: 1 });
  joined.tryWith(async (_view, signal) => {
    postMessage('inside, kicked later');
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
  });
};`;

function serve(isolated: boolean): Promise<{ server: Server; url: string }> {
  const base = resolve('dist');
  const headers: Record<string, string> = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path === '/') return void response.writeHead(200, { ...headers, 'content-type': 'text/html' }).end(page);
    if (path === '/__worker.js') return void response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(worker);
    const file = normalize(join(base, path));
    if (!file.startsWith(base) || !existsSync(file)) return void response.writeHead(404).end();
    response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(readFileSync(file));
  });
  return new Promise((done) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      done({ server, url: `http://127.0.0.1:${address.port}/` });
    }),
  );
}

async function open(isolated: boolean): Promise<PageResult> {
  const { server, url } = await serve(isolated);
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(url);
    await tab.waitForFunction(() => 'result' in window, undefined, { timeout: 20_000 });
    const result = (await tab.evaluate(() => (window as unknown as { result: PageResult }).result)) as PageResult;
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await browser.close();
    await new Promise((done) => server.close(done));
  }
}

describe('revocable/shared in Chromium', { skip: skipBrowser() }, () => {
  before(() => assert.ok(existsSync('dist/shared/index.js'), 'run `npm run build` first (npm test does)'));

  it('refuses to create in a page that is not cross-origin isolated, saying so', async () => {
    const result = await open(false);
    assert.ok(result.ok, `${result.error ?? ''} ${result.log.join(' | ')}`);
  });

  it('revokes across a module worker in a cross-origin isolated page', async () => {
    const result = await open(true);
    assert.ok(result.ok, `${result.error ?? ''} ${result.log.join(' | ')}`);
  });
});
