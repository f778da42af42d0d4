/**
 * The core really runs in a browser: a page imports the ESM build (`dist/`, made by `npm run build`
 * before the tests) and revokes a provider while an async consumer is mid-operation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPage, skipBrowser } from './support/browser.js';

const skip = skipBrowser();

const page = `<!doctype html><meta charset="utf-8"><title>revocable in a browser</title>
<script type="module">
import { Revocable, RevokedError, ResourceScope } from '/index.js';
const log = [];
try {
  const port = { open: true, async write(data) { await new Promise((r) => setTimeout(r, 20)); return data.length; }, close() { this.open = false; log.push('closed'); } };
  const provider = new Revocable(port, { name: 'webusb0', release: (p) => p.close() });
  const handle = provider.handle();
  const writing = handle.with(async (p, signal) => {
    log.push('write starts');
    const n = await p.write('hello');
    log.push('write done, open=' + p.open + ', kicked=' + signal.aborted);
    return n;
  });
  const revoking = provider.revoke().then((first) => log.push('revoke resolved ' + first));
  log.push('revoke started, access=' + (handle.tryAccess() === null ? 'refused' : 'granted'));
  log.push('wrote ' + await writing);
  await revoking;
  try { handle.with(() => 0); } catch (e) { log.push('after: ' + (e instanceof RevokedError) + ' ' + e.code); }
  const scope = new ResourceScope();
  scope.defer(() => log.push('deferred 1'));
  scope.defer(() => log.push('deferred 2'));
  await scope.disposeAsync();
  window.result = { ok: true, log };
} catch (error) {
  window.result = { ok: false, error: String(error && error.stack || error), log };
}
</script>`;

describe('the core in a browser', { skip }, () => {
  it('revokes with a drain in Chromium, from the ESM build', async () => {
    const result = await runPage(page);
    assert.match(result.agent, /Chrome/);
    assert.deepEqual(result.log, [
      'write starts',
      'revoke started, access=refused',
      'write done, open=true, kicked=true',
      'closed',
      'wrote 5',
      'revoke resolved true',
      'after: true ENODEV',
      'deferred 2',
      'deferred 1',
    ]);
  });
});
