/**
 * The cluster storm (`npm run storm:cluster`) in the test suite, briefly, on each engine: it must
 * verify clean (0 stale writes, each release once, every holder drained or cut off, the killed one
 * cut off), and its HTML report must render in Chromium with the holders' timeline.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { clusterStorm, type ClusterResult } from '../../demo/cluster.js';
import { launch, skipBrowser } from '../support/browser.js';
import { engines } from './support/engines.js';

const dir = mkdtempSync(join(tmpdir(), 'revocable-cluster-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the cluster storm (npm run storm:cluster)', { concurrency: true }, () => {
  for (const engine of engines) {
    describe(`--engine ${engine.name}`, { skip: engine.skip }, () => {
      let output = '';
      const out = Object.assign(new Writable({ write: (chunk: Buffer, _encoding, done) => void ((output += chunk.toString()), done()) }), { isTTY: false }) as unknown as NodeJS.WriteStream;
      let result: Promise<ClusterResult> | undefined;
      const run = (): Promise<ClusterResult> => (result ??= clusterStorm({ engine: engine.name, holders: 3, duration: engine.name === 'etcd' ? 6 : 4, seed: 7, report: join(dir, `${engine.name}.html`), out }));

      it('verifies clean: no stale write, one release per revoke, every holder drained or cut off, the killed one cut off', async () => {
        const { ok, rounds, writes, releases, killed, cutOff, violations } = await run();
        assert.ok(ok, output);
        assert.deepEqual(violations, []);
        assert.ok(rounds >= 2, `several revokes (${rounds})`);
        assert.equal(releases, rounds, 'each revoke released once');
        assert.equal(writes.stale, 0);
        assert.ok(writes.accepted > 0, 'the holders served writes');
        assert.ok(killed !== null, 'one holder was SIGKILLed');
        assert.deepEqual(cutOff, [killed], 'and only it was cut off');
        assert.match(output, /verified: every invariant held/);
        assert.match(output, /stale writes accepted +0/);
      });

      it('renders its report in Chromium with a row per holder and the kill marked', { skip: skipBrowser() }, async () => {
        const { reportPath } = await run();
        assert.ok(reportPath);
        const html = readFileSync(reportPath, 'utf8');
        assert.doesNotMatch(html, /<script|src="http|href="http/, 'self-contained');
        const browser = await launch();
        try {
          const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
          await page.goto(`file://${reportPath}`);
          assert.equal(await page.locator('#verdict').textContent(), 'verified: every invariant held');
          assert.ok((await page.locator('#timeline rect.bound').count()) >= 3, 'serving intervals drawn');
          assert.ok((await page.locator('#timeline rect.drain').count()) >= 2, 'drains drawn');
          assert.match((await page.locator('#timeline').textContent()) ?? '', /✕/, 'the SIGKILL marked');
        } finally {
          await browser.close();
        }
      });
    });
  }
});
