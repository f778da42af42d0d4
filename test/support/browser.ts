/**
 * Headless Chromium for the tests that must run in a real browser: Debian's `chromium`, driven by
 * playwright-core. `.ci/run` installs it; on a machine without it these tests skip, saying why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import type { Browser } from 'playwright-core';

export const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

/** Why browser tests cannot run here, or `false` when they can. In CI a missing browser is an error. */
export function skipBrowser(): string | false {
  if (chromiumPath !== undefined) return false;
  if (process.env['CI']) throw new Error('CI must install Debian chromium (see .ci/run) for the browser tests');
  return 'no Chromium on this machine (apt-get install chromium; .ci/run does)';
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath as string,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves `root` on loopback (and `pages` from memory); resolves with the server and its base URL. */
export async function serve(root: string, pages: Record<string, string> = {}): Promise<{ server: Server; url: string }> {
  const base = resolve(root);
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    if (path in pages) {
      response.writeHead(200, { 'content-type': 'text/html' }).end(pages[path]);
      return;
    }
    const file = normalize(join(base, path));
    if (!file.startsWith(base) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** What a test page leaves in `window.result` when its script has run. */
export interface PageResult {
  ok: boolean;
  log: string[];
  agent: string;
  error?: string;
}

/**
 * Serves `dist/` with `page` at `/`, opens it in Chromium and returns the `window.result` its
 * module script sets (`{ ok, log }`, or `{ ok: false, error }`), failing on any page error.
 */
export async function runPage(page: string): Promise<PageResult> {
  const { server, url } = await serve('dist', { '/': page });
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(String(error)));
    await tab.goto(`${url}/`);
    await tab.waitForFunction(() => 'result' in window, undefined, { timeout: 20_000 });
    const result = (await tab.evaluate(() => ({ ...(window as unknown as { result: object }).result, agent: navigator.userAgent }))) as PageResult;
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('\n')}`);
    if (!result.ok) throw new Error(`the page failed: ${result.error ?? 'no error given'}\nlog: ${result.log.join(' | ')}`);
    return result;
  } finally {
    await browser.close();
    await new Promise((done) => server.close(done));
  }
}
